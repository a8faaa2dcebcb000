"""Cameras read through PyAV: a looping video file (``file``) or a USB webcam (``v4l2``).

A decoder thread turns each picture into the two ring sizes (hd, and the centre 4:3 crop
of it scaled to sd, both yuv420p; sizes in :data:`common.ipc.frame_layout.STREAMS`) and hands
them over through a queue of two; the capture loop takes them from there.  A file plays as a
camera at ``camera.fps`` would have filmed it: in real time on the monotonic clock, each
tick showing the picture whose time has come by the file's own timestamps (a 10 fps clip
shows each picture three times at 30 fps, a 50 fps clip skips some), and starts again at
the end.  A webcam sets its own pace, and when the loop falls behind the oldest waiting
picture is dropped (newest wins) and counted.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from capture.sources.base import CameraFailed, CapturedFrame, Planes, SliceTimeout, wait_in_slices
from common.clock import Pacer
from common.config import Config
from common.video.i420 import planes
from common.video.streams import STREAMS

log = logging.getLogger("capture")

HD = STREAMS["hd"]
SD = STREAMS["sd"]
CROP_W = HD[1] * SD[0] // SD[1]  # the centre of the hd picture with the sd picture's shape
QUEUE_DEPTH = 2
WAIT_SLICE_S = 0.25              # waits are sliced so a stop request is seen at once


def convert(picture: Any) -> tuple[np.ndarray, np.ndarray]:
    """A decoded ``av.VideoFrame`` as (hd, sd) tight I420 arrays."""
    import av
    hd = picture.reformat(width=HD[0], height=HD[1], format="yuv420p").to_ndarray()
    y, u, v = planes(hd, *HD)
    x0 = (HD[0] - CROP_W) // 2
    crop = np.empty((HD[1] * 3 // 2, CROP_W), np.uint8)
    cy, cu, cv = planes(crop, CROP_W, HD[1])
    np.copyto(cy, y[:, x0:x0 + CROP_W])
    np.copyto(cu, u[:, x0 // 2:(x0 + CROP_W) // 2])
    np.copyto(cv, v[:, x0 // 2:(x0 + CROP_W) // 2])
    sd = av.VideoFrame.from_ndarray(crop, format="yuv420p").reformat(width=SD[0], height=SD[1]).to_ndarray()
    return hd, sd


class Retimer:
    """Pictures with their times in, the pictures a camera at ``fps`` shows out.

    Tick ``n`` (at ``n / fps`` seconds from the first picture) shows the newest picture
    whose time has come: a picture is repeated until the next one's time, and one whose
    time falls between two ticks and is followed by another before the next tick is never
    shown.  Ticks are counted in integers, so an hour of ticks does not drift.
    """

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self._origin: float | None = None
        self._tick = 0                 # the next tick not yet shown
        self._held: Any = None

    def _due(self, tick: int) -> float:
        assert self._origin is not None
        return self._origin + tick / self.fps

    def feed(self, time_s: float, picture: Any) -> list[Any]:
        """The pictures to show, one per tick, up to (not including) ``time_s``, when a
        picture of ``time_s`` (later than any given before) comes next.  The last picture
        of a clip is shown by feeding the clip's end with ``None``."""
        if self._origin is None:
            self._origin, self._held = time_s, picture
            return []
        shown = []
        while self._due(self._tick) < time_s - 1e-9:
            shown.append(self._held)
            self._tick += 1
        self._held = picture
        return shown


def picture_times(pictures: Iterable[Any], stream: Any) -> Iterator[tuple[float, Any]]:
    """Each decoded picture with its time in seconds; a picture without a timestamp is
    taken one frame period (by the stream's guessed rate) after the one before."""
    rate = stream.guessed_rate or stream.average_rate
    period = 1.0 / float(rate) if rate else 1.0 / 30
    last = None
    for picture in pictures:
        t = picture.time
        t = (0.0 if last is None else last + period) if t is None else float(t)
        last = t
        yield t, picture


class _Failure:
    def __init__(self, message: str) -> None:
        self.message = message


class AvSource:
    """``start()``, ``capture(timeout)``, ``interrupt()``, ``close()``, ``missed``."""

    def __init__(self, kind: str, url: str, camera: int, fps: float, open_timeout: float) -> None:
        self.kind = kind
        self.url = url
        self.camera = camera
        self.fps = float(fps)
        self.open_timeout = open_timeout
        self.missed = 0
        self._container: Any = None
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_DEPTH)
        self._closed = threading.Event()
        self._interrupted = threading.Event()
        self._thread: threading.Thread | None = None
        self._pacer: Pacer | None = None

    @classmethod
    def from_config(cls, kind: str, camera: int, cfg: Config) -> AvSource:
        key = "files" if kind == "file" else "v4l2_devices"
        entries = getattr(cfg.camera, key)
        if camera >= len(entries) or not entries[camera]:
            raise CameraFailed(f"camera.{key} has no entry for camera {camera} "
                               f"(it lists {len(entries)}); camera.source = {kind} needs one")
        return cls(kind, entries[camera], camera, cfg.camera.fps, cfg.camera.capture_timeout)

    def start(self) -> None:
        import av
        label = "video file" if self.kind == "file" else "v4l2 device"
        if not os.path.exists(self.url):
            hint = "" if self.kind == "file" else " (is the webcam plugged in?)"
            raise CameraFailed(f"{label} {self.url} does not exist{hint}")
        try:
            if self.kind == "v4l2":
                self._container = av.open(self.url, format="v4l2", timeout=self.open_timeout,
                                          options={"video_size": f"{HD[0]}x{HD[1]}",
                                                   "framerate": str(int(self.fps))})
            else:
                self._container = av.open(self.url, timeout=self.open_timeout)
        except Exception as exc:
            raise CameraFailed(f"{label} {self.url} cannot be opened: {exc}") from None
        if not self._container.streams.video:
            raise CameraFailed(f"{label} {self.url} has no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        if self.kind == "file":
            self._pacer = Pacer(self.fps)   # the camera's rate, whatever the file's
        log.info("camera %d: %s %s at %.3g fps", self.camera, label, self.url, self.fps)
        self._thread = threading.Thread(target=self._decode, args=(stream,), name="decode", daemon=True)
        self._thread.start()

    # -- decoder thread ---------------------------------------------------------------------
    def _decode(self, stream: Any) -> None:
        try:
            if self.kind != "file":
                for picture in self._container.decode(stream):
                    if self._closed.is_set():
                        return
                    self._hand_over(convert(picture))
                raise EOFError("the device stopped delivering")
            retimer, offset = Retimer(self.fps), 0.0
            while not self._closed.is_set():
                times = picture_times(self._container.decode(stream), stream)
                first = last = period = None
                for time_s, picture in times:
                    if self._closed.is_set():
                        return
                    first = time_s if first is None else first
                    period = time_s - last if last is not None and time_s > last else period
                    last = time_s
                    hd_sd = convert(picture)
                    for shown in retimer.feed(offset + time_s, hd_sd):
                        self._hand_over(shown)
                if first is None or last is None:
                    raise EOFError("no picture could be decoded")
                offset += last + (period or 1.0 / self.fps) - first   # the next pass goes on from here
                self._container.seek(0)  # loop the file
        except Exception as exc:
            if not self._closed.is_set():
                self._hand_over(_Failure(f"{self.url}: {exc}"))

    def _hand_over(self, item: object) -> None:
        if self.kind == "file":
            while not self._closed.is_set():  # a file waits for the loop: no picture skipped
                try:
                    self._queue.put(item, timeout=WAIT_SLICE_S)
                    return
                except queue.Full:
                    continue
            return
        while True:  # a live camera: newest wins
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.missed += 1
                except queue.Empty:
                    pass

    # -- capture loop side ------------------------------------------------------------------
    def interrupt(self) -> None:
        self._interrupted.set()

    def capture(self, timeout: float) -> CapturedFrame | None:
        return wait_in_slices(self._next, timeout, WAIT_SLICE_S, self._interrupted,
                              f"{self.kind} source {self.url}: no picture for {timeout:g} s")

    def _next(self, wait_s: float) -> CapturedFrame:
        try:
            item = self._queue.get(timeout=wait_s)
        except queue.Empty:
            raise SliceTimeout from None
        if isinstance(item, _Failure):
            raise CameraFailed(item.message)
        mono_ns = self._pacer.wait() if self._pacer is not None else time.monotonic_ns()
        wall_ns = time.time_ns() - (time.monotonic_ns() - mono_ns)
        return _AvFrame(mono_ns, wall_ns, *item)

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=0.5)
            if self._thread.is_alive():
                return  # still inside the decoder: closing under it could crash; the process is ending
            self._thread = None
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
            self._container = None


@dataclass(eq=False)
class _AvFrame(CapturedFrame):
    hd: np.ndarray
    sd: np.ndarray

    def fill(self, hd: Planes, sd: Planes) -> None:
        for dst, src in zip(hd, planes(self.hd, *HD)):
            np.copyto(dst, src)
        for dst, src in zip(sd, planes(self.sd, *SD)):
            np.copyto(dst, src)
