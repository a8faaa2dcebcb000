"""``python -m capture --camera N``: the one process that owns camera N.

It opens the camera once, and for every frame fills the next slot of the camera's two
rings (``hd`` and ``sd``, I420, sizes in ``common.ipc.frame_layout.STREAMS``) in place, stamps
name and time on both, and publishes them.  Exit codes: 0 on SIGINT/SIGTERM, 1 when the
camera fails (so the supervisor starts a fresh process), 2 for a bad configuration or
command line, or a camera stack that cannot work (picamera2 installed but not importable).

Two states keep the process up without the camera, published on the status board
(``capture-camN``) for the page: "not connected" (libcamera does not list the camera;
checked again every ``camera.absent_retry_seconds`` by a fresh process, and when it appears
this one exits 1 so the supervisor starts one that opens it), and "off" (``recorder.engine
= rpicam-vid``: rpicam-vid owns the camera, so there is no live view).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time

from capture.sources.base import CameraAbsent, CameraFailed, CameraStackBroken, Source
from capture.sources.registry import open_source, resolve_kind
from capture.watchdog import Watchdog
from common.clock import stamp_text
from common.config import EXIT_BAD_CONFIG, Config, settled_exit_code
from common.ipc.frame_writer import RingWriter
from common.ipc.names import ring_name
from common.ipc.segment import RingBusy
from common.meter import RateMeter
from common.process.memory import trim
from common.process.startup import start_camera_process
from common.state.board import StatusBoard
from common.state.documents import CaptureState
from common.video.overlay import FrameStamp, drawable
from common.video.streams import STREAMS

log = logging.getLogger("capture")
STATS_EVERY_S = 1.0
IDLE_SLICE_S = 0.5


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
        self.board = StatusBoard.for_config(cfg)
        self.watchdog = Watchdog(cfg.camera.watchdog_seconds, camera)

    def publish(self, state: CaptureState, reason: str = "", source: str = "", code: str = "") -> None:
        """The capture state for the page and health checks: live, not connected, off, error;
        ``reason`` in the capture's own words, ``code`` (a ``camreason.*`` key of the message
        catalogue) for the page to say it in its language."""
        try:
            self.board.publish_capture(self.camera, {"camera": self.camera, "pid": os.getpid(), "state": state,
                                                     "reason": reason, "source": source, "reason_code": code})
        except OSError as exc:
            log.warning("camera %d: cannot publish the status: %s", self.camera, exc)

    def stop(self, *_: object) -> None:
        self.stopping = True
        if self.source is not None:
            self.source.interrupt()  # a source waiting for the camera returns at once

    def _open_rings(self, kind: str) -> None:
        for stream, (w, h) in STREAMS.items():
            name = ring_name(self.cfg.ring.prefix, self.camera, stream)
            slots = self.cfg.ring.slots if stream == "hd" else self.cfg.ring.sd_slots
            writer = RingWriter(name, w, h, slots, self.cfg.camera.fps, kind, self.name,
                                self.cfg.ring.stale_seconds)
            if writer.reclaimed:
                log.warning("ring %s: reclaimed the segment left by a writer that died", name)
            self.writers[stream] = writer
            self.stamps[stream] = FrameStamp(drawable(self.name, self.camera), w, h)

    def run(self) -> int:
        if self.cfg.recorder.engine == "rpicam-vid":
            reason = "live view off: camera recorded by rpicam-vid (recorder.engine = rpicam-vid)"
            log.info("camera %d (%s): %s; not opening the camera", self.camera, self.name, reason)
            self.publish("off", reason, code="rpicam_engine")
            return self._idle(retry=False)
        self.watchdog.start()
        try:
            return self._run()
        finally:
            self.watchdog.stop()

    def _run(self) -> int:
        try:
            kind, why = resolve_kind(self.cfg, self.camera)
        except CameraStackBroken as exc:
            log.error("camera %d: %s", self.camera, exc)
            self.publish("error", str(exc), code="stack_broken")
            return settled_exit_code(EXIT_BAD_CONFIG)
        log.info("camera %d (%s): source %s (%s)", self.camera, self.name, kind, why)
        self.publish("starting", why, kind)
        try:
            self._open_rings(kind)
        except RingBusy as exc:
            log.error("camera %d: %s; only one capture process may own a camera", self.camera, exc)
            for writer in self.writers.values():
                writer.close(unlink=True)
            return 1
        source = None
        try:
            # The synthetic camera's opening is its scene computation (about 0.75 s of CPU):
            # it cannot hang, and on a busy machine it outlasted watchdog_seconds.
            self.watchdog.phase("opening the camera", watched=kind != "synthetic")
            source = self.source = open_source(kind, self.camera, self.cfg)
            if self.stopping:
                return 0
            self.watchdog.phase("starting the camera")
            source.start()
            details = getattr(source, "details", None)
            if details is not None:   # a Pi camera: which one, its sensor mode and focus
                log.info("camera %d: %s", self.camera, details())
            trim()
            self.publish("live", why, kind)
            self.watchdog.phase("waiting for a frame")
            return self._loop(source)
        except CameraAbsent as exc:
            log.warning("camera %d: %s; waiting for it", self.camera, exc)
            self.publish("not connected", str(exc), kind, "absent")
            self._close(source)
            source = None
            return self._idle(retry=True)
        except CameraStackBroken as exc:
            log.error("camera %d: %s", self.camera, exc)
            self.publish("error", str(exc), kind, "stack_broken")
            return settled_exit_code(EXIT_BAD_CONFIG)
        except CameraFailed as exc:
            log.error("camera %d: %s", self.camera, exc)
            self.publish("error", str(exc), kind, "failed")
            return 1
        finally:
            self._close(source)
            log.info("camera %d: stopped", self.camera)

    def _close(self, source: Source | None) -> None:
        """Close the source and remove the rings: no reader waits on a camera that is not there."""
        if source is not None:
            self.watchdog.phase("closing the camera")
            source.close()
        for writer in self.writers.values():
            writer.close(unlink=True)
        self.writers.clear()

    def _idle(self, retry: bool) -> int:
        """Stay up without the camera until stopped; with ``retry``, exit 1 once it is listed."""
        from capture.sources.picam import listed_now
        self.watchdog.stop()  # no camera, no frames: nothing for it to watch
        every = self.cfg.camera.absent_retry_seconds
        next_check = time.monotonic() + every
        while not self.stopping:
            time.sleep(IDLE_SLICE_S)
            if retry and time.monotonic() >= next_check:
                # A pinned camera counts only on its own connector, whatever else is listed.
                if listed_now(self.camera, self.cfg.camera_id(self.camera)):
                    log.info("camera %d: now listed; restarting to open it", self.camera)
                    return 1
                next_check = time.monotonic() + every
        return 0

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
            self.watchdog.feed()
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
    parser.add_argument("--camera", type=int, help="camera number (0 or 1)")
    parser.add_argument("--check", action="store_true",
                        help="self-check: cameras, rates, colours, encoders, disk, versions (exit 0 when all is well)")
    parser.add_argument("--seconds", type=float, default=10.0, help="--check: how long each camera is measured")
    args = parser.parse_args(argv)
    if args.check:
        # The self-check is its own program (it also checks the recorder's and the live
        # view's encoders); this spelling of it stays for the owners who know it.
        os.execv(sys.executable, [sys.executable, "-m", "doctor", "--seconds", str(args.seconds)])
    if args.camera is None:
        parser.error("--camera is required (or --check)")
    capture = Capture(start_camera_process(args.camera), args.camera)
    signal.signal(signal.SIGTERM, capture.stop)
    signal.signal(signal.SIGINT, capture.stop)
    return capture.run()


if __name__ == "__main__":
    sys.exit(main())
