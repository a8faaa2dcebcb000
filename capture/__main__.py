"""``python -m capture --camera N``: the one process that owns camera N.

It opens the camera once, and for every frame fills the next slot of the camera's two
rings (``hd`` and ``sd``, I420, sizes in ``common.ring_layout.STREAMS``) in place, stamps
name and time on both, and publishes them.  Exit codes: 0 on SIGINT/SIGTERM, 1 when the camera fails (so the
supervisor starts a fresh process), 2 for a bad configuration or command line.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from capture.registry import open_source, resolve_kind
from capture.source import CameraFailed, Source
from common.clock import stamp_text
from common.config import Config, load_or_exit
from common.memory import trim
from common.meter import RateMeter
from common.overlay import FrameStamp
from common.ring import RingBusy, RingWriter
from common.ring_layout import STREAMS, ring_name

log = logging.getLogger("capture")
STATS_EVERY_S = 1.0


class Capture:
    """Camera -> rings.  ``run()`` returns the process exit code."""

    def __init__(self, cfg: Config, camera: int) -> None:
        self.cfg = cfg
        self.camera = camera
        self.name = cfg.camera_name(camera)
        self.stopping = False
        self.fps_meter = RateMeter(window=2.0, max_events=4 * cfg.camera.fps)
        self.writers: dict[str, RingWriter] = {}
        self.stamps: dict[str, FrameStamp] = {}
        self.source: Source | None = None

    def stop(self, *_: object) -> None:
        self.stopping = True
        if self.source is not None:
            self.source.interrupt()  # a source waiting for the camera returns at once

    def _open_rings(self, kind: str) -> None:
        for stream, (w, h) in STREAMS.items():
            name = ring_name(self.cfg.ring.prefix, self.camera, stream)
            writer = RingWriter(name, w, h, self.cfg.ring.slots, self.cfg.camera.fps, kind, self.name,
                                self.cfg.ring.stale_seconds)
            if writer.reclaimed:
                log.warning("ring %s: reclaimed the segment left by a writer that died", name)
            self.writers[stream] = writer
            self.stamps[stream] = FrameStamp(self.name, w, h)

    def run(self) -> int:
        kind, why = resolve_kind(self.cfg, self.camera)
        log.info("camera %d (%s): source %s (%s)", self.camera, self.name, kind, why)
        try:
            self._open_rings(kind)
        except RingBusy as exc:
            log.error("camera %d: %s; only one capture process may own a camera", self.camera, exc)
            for writer in self.writers.values():
                writer.close(unlink=True)
            return 1
        source = None
        try:
            source = self.source = open_source(kind, self.camera, self.cfg)
            if self.stopping:
                return 0
            source.start()
            trim()
            return self._loop(source)
        except CameraFailed as exc:
            log.error("camera %d: %s", self.camera, exc)
            return 1
        finally:
            if source is not None:
                source.close()
            for writer in self.writers.values():
                writer.close(unlink=True)
            log.info("camera %d: stopped", self.camera)

    def _loop(self, source: Source) -> int:
        hd, sd = self.writers["hd"], self.writers["sd"]
        overlay = self.cfg.camera.overlay
        timeout = self.cfg.camera.capture_timeout
        last_stats = 0.0
        while not self.stopping:
            frame = source.capture(timeout)
            if frame is None:  # interrupted by a stop request
                continue
            try:
                hd_planes, sd_planes = hd.begin(), sd.begin()
                frame.fill(hd_planes, sd_planes)
            finally:
                frame.release()
            if overlay:
                text = stamp_text(frame.wall_ns)
                self.stamps["hd"].draw(*hd_planes, text)
                self.stamps["sd"].draw(*sd_planes, text)
            hd.commit(frame.mono_ns, frame.wall_ns)
            sd.commit(frame.mono_ns, frame.wall_ns)
            now = time.monotonic()
            self.fps_meter.add(now=now)
            if now - last_stats >= STATS_EVERY_S:
                last_stats = now
                fps, drops = self.fps_meter.rate(now), source.missed
                hd.set_stats(fps, drops)
                sd.set_stats(fps, drops)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m capture", description="Own one camera and feed its rings.")
    parser.add_argument("--camera", type=int, required=True, help="camera number (0 or 1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s[cam%(camera)s] %(levelname)s %(message)s"
                        .replace("%(camera)s", str(args.camera)), stream=sys.stderr)
    cfg = load_or_exit()
    if not 0 <= args.camera < cfg.camera.count:
        print(f"--camera {args.camera}: allowed values are 0 to {cfg.camera.count - 1} (camera.count)",
              file=sys.stderr)
        return 2
    capture = Capture(cfg, args.camera)
    signal.signal(signal.SIGTERM, capture.stop)
    signal.signal(signal.SIGINT, capture.stop)
    return capture.run()


if __name__ == "__main__":
    sys.exit(main())
