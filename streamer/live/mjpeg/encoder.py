"""The view encoder: one per (view, resolution) in a worker, shared by all its viewers.

A :class:`ViewEncoder` is a thread that sleeps in the ring's futex wait (the GIL is free
while it waits and while simplejpeg encodes), composes the view, encodes it once, frames
it once (:mod:`streamer.live.mjpeg.framing`), and offers the picture to its viewers' senders on that
same thread: a viewer whose socket has room gets it written there and then, without
waking the asyncio loop (a wake-up per picture costs about as much CPU as the rest of the
picture's handling).  Viewers only ever take the newest picture, so the encoder never
waits for anyone.  It encodes only while someone watches and goes away a few seconds
after the last viewer left (a reload or a view switch finds it warm).  :class:`Encoders`
is a worker's registry of them.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simplejpeg

from common.config import Config
from common.ipc.frame_reader import Frame, RingReader
from common.ipc.names import ring_name
from common.meter import RateMeter
from streamer.live.cameras import LIVE_AGE_S
from streamer.live.mjpeg import framing
from streamer.live.mjpeg.compose import Composer
from streamer.params import RESOLUTIONS, Resolution, view_cameras

log = logging.getLogger("streamer.encoder")

WAIT_S = 0.25          # longest futex wait: how fast the thread notices a stop or a dead camera
LINGER_S = 3.0         # an encoder without viewers stays this long before its thread ends
IDLE_WAIT_S = 0.5      # an encoder without viewers sleeps this long unless one arrives
ANOMALY_LOG_EVERY_S = 10.0


@dataclass(slots=True, eq=False)
class Picture:
    """One encoded picture, framed once for every viewer of its view (treat as read-only)."""

    seq: int              # per encoder, +1 for every picture published
    head: bytes           # the multipart part's boundary and headers
    jpeg: bytes
    chunked: tuple[bytes, bytes, bytes]   # the part as one HTTP/1.1 chunk, for one writev
    index: int            # ring index of the pacing camera's frame (-1: NO SIGNAL picture)
    mono_ns: int          # capture time of that frame (CLOCK_MONOTONIC)
    wall_ns: int
    made_ns: int          # when the part was published (CLOCK_MONOTONIC)
    size: int             # bytes of the part (what a viewer receives, without transfer coding)

    @property
    def plain(self) -> tuple[bytes, bytes, bytes]:
        """The part without transfer coding."""
        return framing.plain(self.head, self.jpeg)


class ViewEncoder:
    def __init__(self, cfg: Config, view: str, res: Resolution,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.cfg, self.view, self.res, self.loop = cfg, view, res, loop
        self.cams = view_cameras(view)
        self.quality = cfg.streamer.jpeg_quality
        self.readers = [RingReader(ring_name(cfg.ring.prefix, cam, res.stream), cfg.ring.stale_seconds)
                        for cam in self.cams]
        self.composer = Composer(self.cams, res, [cfg.camera_name(c) for c in self.cams],
                                 label=not cfg.camera.overlay)
        self.in_place = len(self.cams) == 1 and cfg.camera.overlay
        self.viewers = 0                       # changed on the loop thread only
        self.idle_since = time.monotonic()
        # (newest picture, tick), replaced as one so a reader never pairs a picture with
        # another's tick.  The tick is +1 per picture or keep-alive: "send (again) now".
        self.latest: tuple[Picture, int] | None = None
        self.keepalive_s = cfg.streamer.keepalive_seconds
        # Called on the encoder thread with each picture (new, or the last one again as
        # keep-alive); they must not block.  Added and removed on the loop thread.
        self.senders: set[Callable[[Picture, int], None]] = set()
        # Called on the loop thread likewise (costs a loop wake-up per picture).
        self.subscribers: set[Callable[[Picture, int], None]] = set()
        self._seq = 0
        self._stop = threading.Event()
        self._wanted = threading.Event()       # set when a viewer arrives (or to stop): wakes an idle thread
        self._thread: threading.Thread | None = None
        # Statistics, written by the encoder thread, read by status requests (the meters
        # may be read while written).
        self._encode_ms = RateMeter(window=2.0, max_events=256)
        self._sizes = RateMeter(window=2.0, max_events=256)
        self.frames_encoded = 0
        self.lapped = 0
        self.anomalies = 0
        self._last_anomaly_log = 0.0
        bounds = len(self.cams)
        self.size_bounds = (res.min_jpeg * bounds, res.max_jpeg * bounds)

    # -- lifecycle (loop thread) ------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"enc-{self.view}-{self.res.name}", daemon=True)
        self._thread.start()

    def stop(self, join_s: float = 0.5) -> None:
        self.signal_stop()
        if self._thread is not None:
            self._thread.join(join_s)
        for reader in self.readers:
            if self._thread is None or not self._thread.is_alive():
                reader.close()

    def signal_stop(self) -> None:
        self._stop.set()
        self._wanted.set()

    def wanted(self) -> None:
        """A viewer arrived (loop thread, after ``viewers`` went up)."""
        self._wanted.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    @property
    def picture(self) -> Picture | None:
        latest = self.latest
        return latest[0] if latest is not None else None

    @property
    def ticks(self) -> int:
        latest = self.latest
        return latest[1] if latest is not None else 0

    def _publish(self, pic: Picture, tick: int) -> None:
        for notify in list(self.subscribers):
            try:
                notify(pic, tick)
            except Exception:  # one viewer's socket trouble must not keep the picture from the others
                log.exception("view %s %s: handing a picture to a viewer failed", self.view, self.res.name)

    # -- rendering (encoder thread, or a worker thread for a snapshot) ----------------------
    def _live(self, frame: Frame | None) -> bool:
        return frame is not None and frame.age_s < LIVE_AGE_S

    def render(self, lead: int | None, lead_frame: Frame | None) -> Picture | None:
        """Compose and encode one picture; ``lead`` is the part whose frame paces the view."""
        comp = self.composer
        shown: Frame | None = lead_frame
        if self.in_place and lead_frame is not None:
            t0 = time.perf_counter_ns()
            jpeg = simplejpeg.encode_jpeg_yuv_planes(*comp.single_planes(lead_frame), quality=self.quality)
            t1 = time.perf_counter_ns()
            if not lead_frame.valid():
                self.lapped += 1
                return None
            return self._finish(jpeg, shown, t1 - t0)
        for part, reader in enumerate(self.readers):
            frame = lead_frame if part == lead else None
            if frame is None:
                frame = reader.latest()
                if not self._live(frame):
                    frame = None
            if frame is None:
                comp.put_no_signal(part)
            elif not comp.put(part, frame):
                if part == lead:
                    self.lapped += 1
                    return None
                # The other camera's slot was overwritten while copying: take its newer frame.
                frame = reader.latest()
                if frame is None or not comp.put(part, frame):
                    comp.put_no_signal(part)
            if shown is None and frame is not None:
                shown = frame
        t0 = time.perf_counter_ns()
        jpeg = simplejpeg.encode_jpeg_yuv_planes(*comp.planes, quality=self.quality)
        return self._finish(jpeg, shown, time.perf_counter_ns() - t0)

    def _finish(self, jpeg: bytes, frame: Frame | None, encode_ns: int) -> Picture:
        now = time.monotonic_ns()
        if frame is not None:
            index, mono, wall = frame.index, frame.mono_ns, frame.wall_ns
        else:
            index, mono, wall = -1, now, time.time_ns()
        head = framing.part_head(len(jpeg), index, wall, mono)
        self._seq += 1
        self.frames_encoded += 1
        at = now / 1e9
        self._encode_ms.add(encode_ns / 1e6, at)
        self._sizes.add(len(jpeg), at)
        lo, hi = self.size_bounds
        if frame is not None and not lo <= len(jpeg) <= hi:
            self._anomaly(len(jpeg))
        return Picture(self._seq, head, jpeg, framing.chunk_coded(head, jpeg), index, mono, wall, now,
                       len(head) + len(jpeg) + 2)

    def _anomaly(self, size: int) -> None:
        self.anomalies += 1
        if time.monotonic() - self._last_anomaly_log >= ANOMALY_LOG_EVERY_S:
            self._last_anomaly_log = time.monotonic()
            lo, hi = self.size_bounds
            log.warning("view %s %s: JPEG of %d bytes outside the expected %d-%d (%d so far)",
                        self.view, self.res.name, size, lo, hi, self.anomalies)

    def _run(self) -> None:
        lead = 0
        last_made = last_sent = time.monotonic()
        no_signal_shown = False
        pic: Picture | None = None
        while not self._stop.is_set():
            try:
                if self.viewers <= 0:
                    # Nobody watches: encode nothing, just wait to be needed or stopped
                    # (cleared before looking again, so an arrival in between is not missed).
                    self._wanted.clear()
                    if self.viewers <= 0 and not self._stop.is_set():
                        self._wanted.wait(IDLE_WAIT_S)
                    continue
                frame = self.readers[lead].next_frame(WAIT_S)
                now = time.monotonic()
                if frame is None:
                    # The pacing camera is silent: let another live camera pace the view.
                    other = next((i for i, r in enumerate(self.readers) if i != lead and self._live(r.latest())),
                                 None)
                    if other is not None:
                        lead = other
                    elif now - last_made >= LIVE_AGE_S and not no_signal_shown:
                        pic = self.render(None, None)
                        if pic is not None:
                            self._hand_over(pic)
                            last_sent = now
                            no_signal_shown = True
                    elif pic is not None and now - last_sent >= self.keepalive_s:
                        # No new frame: viewers get the last picture again (browsers keep the connection).
                        self._hand_over(pic)
                        last_sent = now
                    continue
                new = self.render(lead, frame)
                if new is not None:
                    pic = new
                    self._hand_over(pic)
                    last_made = last_sent = now
                    no_signal_shown = False
            except RuntimeError as exc:  # the event loop closed under us: the worker is stopping
                log.debug("encoder %s %s ended: %s", self.view, self.res.name, exc)
                break
            except Exception:  # keep serving: one bad frame must not end the view
                log.exception("encoder %s %s: frame failed", self.view, self.res.name)
                self._stop.wait(0.1)
        for reader in self.readers:
            reader.close()

    def _hand_over(self, pic: Picture) -> None:
        latest = self.latest
        tick = latest[1] + 1 if latest is not None else 1
        self.latest = (pic, tick)
        for send in tuple(self.senders):  # a snapshot: the loop thread may add or remove meanwhile
            try:
                send(pic, tick)
            except Exception:  # one viewer's socket trouble must not keep the picture from the others
                if self.loop is not None and self.loop.is_closed():
                    raise RuntimeError("event loop closed") from None
                log.exception("view %s %s: handing a picture to a viewer failed", self.view, self.res.name)
        if self.subscribers and self.loop is not None:
            self.loop.call_soon_threadsafe(self._publish, pic, tick)

    # -- statistics --------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return {"view": self.view, "res": self.res.name, "fps": round(self._encode_ms.rate(), 2),
                "avg_jpeg_bytes": int(self._sizes.mean()), "encode_ms": round(self._encode_ms.mean(), 2),
                "frames_encoded": self.frames_encoded, "lapped": self.lapped, "anomalies": self.anomalies,
                "encoding": self.viewers > 0 and self.running}


class Encoders:
    """This worker's view encoders, started on a view's first viewer, reaped after its last."""

    def __init__(self, cfg: Config, loop: asyncio.AbstractEventLoop) -> None:
        self.cfg, self.loop = cfg, loop
        self._by_view: dict[tuple[str, str], ViewEncoder] = {}

    def __len__(self) -> int:
        return len(self._by_view)

    def acquire(self, view: str, res: str) -> ViewEncoder:
        enc = self._by_view.get((view, res))
        if enc is None or not enc.running:
            enc = ViewEncoder(self.cfg, view, RESOLUTIONS[res], self.loop)
            self._by_view[(view, res)] = enc
            enc.start()
        enc.viewers += 1
        enc.wanted()
        return enc

    def release(self, enc: ViewEncoder) -> None:
        enc.viewers = max(0, enc.viewers - 1)
        if enc.viewers == 0:
            enc.idle_since = time.monotonic()

    def reap(self) -> None:
        now = time.monotonic()
        for key, enc in list(self._by_view.items()):
            if enc.viewers == 0 and (now - enc.idle_since >= LINGER_S or not enc.running):
                enc.stop(join_s=0.0)
                del self._by_view[key]

    def fresh_picture(self, view: str, res: str) -> Picture | None:
        enc = self._by_view.get((view, res))
        pic = enc.picture if enc is not None and enc.viewers > 0 else None
        if pic is not None and time.monotonic_ns() - pic.made_ns < LIVE_AGE_S * 1e9:
            return pic
        return None

    def snapshot(self, view: str, res: str) -> Picture | None:
        """One picture of the newest frames, made now (call from a worker thread)."""
        enc = ViewEncoder(self.cfg, view, RESOLUTIONS[res], None)
        try:
            for _ in range(3):  # a frame overwritten while copying: try the newer one
                pic = enc.render(None, None)
                if pic is not None:
                    return pic
            return None
        finally:
            for reader in enc.readers:
                reader.close()

    def stats(self) -> list[dict[str, Any]]:
        return [enc.stats() for enc in self._by_view.values()]

    def close(self) -> None:
        for enc in self._by_view.values():
            enc.signal_stop()
        for enc in self._by_view.values():
            enc.stop(join_s=0.3)
        self._by_view.clear()
