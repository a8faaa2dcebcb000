"""Cameras read through PyAV: a looping video file (``file``) or a USB webcam (``v4l2``).

A decoder thread turns each picture into the two ring sizes (hd, and the centre 4:3 crop
of it scaled to sd, both yuv420p; sizes in :data:`common.ipc.frame_layout.STREAMS`) and hands
them over through a queue of two; the capture loop takes them from there.  A file plays at its own frame rate on the
monotonic clock and starts again at the end; a webcam sets its own pace, and when the
loop falls behind the oldest waiting picture is dropped (newest wins) and counted.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
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
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(Fraction(rate)) if rate else self.fps
            self._pacer = Pacer(self.fps)
        log.info("camera %d: %s %s at %.3g fps", self.camera, label, self.url, self.fps)
        self._thread = threading.Thread(target=self._decode, args=(stream,), name="decode", daemon=True)
        self._thread.start()

    # -- decoder thread ---------------------------------------------------------------------
    def _decode(self, stream: Any) -> None:
        try:
            while not self._closed.is_set():
                count = 0
                for picture in self._container.decode(stream):
                    if self._closed.is_set():
                        return
                    self._hand_over(convert(picture))
                    count += 1
                if self.kind != "file":
                    raise EOFError("the device stopped delivering")
                if count == 0:
                    raise EOFError("no picture could be decoded")
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
