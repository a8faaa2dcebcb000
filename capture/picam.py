"""The Raspberry Pi camera through Picamera2.

One ``Picamera2`` per process, opened and configured once (the library leaks memory
when a camera is reopened or reconfigured); when the camera fails, :class:`CameraFailed`
ends the process and the supervisor starts a fresh one.

Two YUV420 streams: ``main`` 1280x720 fills the hd ring; ``lores`` is 16:9 and 480
lines high, and its centre 640x480 fills the sd ring, so the sd picture is cropped,
never squeezed.  Rows in a camera buffer are padded to the stride; only the picture
columns are copied.  ``picamera2`` is imported here only: it needs libcamera.
"""
from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any

import numpy as np

from capture.source import CameraFailed, CapturedFrame, Planes, SliceTimeout, wait_in_slices
from common.ring_layout import STREAMS

HD_SIZE = STREAMS["hd"]
SD_SIZE = STREAMS["sd"]
LORES_SIZE = (round(SD_SIZE[1] * HD_SIZE[0] / HD_SIZE[1] / 2) * 2, SD_SIZE[1])  # 16:9 at sd's lines: 854x480
BUFFER_COUNT = 6
WAIT_SLICE_S = 0.5           # a capture wait never blocks longer, so a stop request is seen quickly


def yuv420_planes(array: np.ndarray, width: int, height: int) -> Planes:
    """Y, U, V views of a Picamera2 YUV420 array of shape ``(h*3//2, stride)``, padding cut off."""
    stride = array.shape[1]
    y = array[:height, :width]
    # U and V rows are half a stride long: view the buffer as rows of stride/2.
    half = array.reshape(height * 3, stride // 2)
    u = half[2 * height:2 * height + height // 2, :width // 2]
    v = half[2 * height + height // 2:2 * height + height, :width // 2]
    return y, u, v


def centre_crop(planes: Planes, width: int, height: int) -> Planes:
    """The centre ``width`` x ``height`` of I420 planes; even offsets keep chroma aligned."""
    y, u, v = planes
    x0 = (y.shape[1] - width) // 4 * 2
    y0 = (y.shape[0] - height) // 4 * 2
    return (y[y0:y0 + height, x0:x0 + width],
            u[y0 // 2:(y0 + height) // 2, x0 // 2:(x0 + width) // 2],
            v[y0 // 2:(y0 + height) // 2, x0 // 2:(x0 + width) // 2])


def cameras_listed() -> int:
    """How many Pi cameras Picamera2 lists, without opening one; 0 when it cannot be imported."""
    try:
        from picamera2 import Picamera2  # only importable on a Pi (it needs libcamera)
    except Exception:
        return 0
    try:
        return len(Picamera2.global_camera_info())
    except Exception:
        return 0


class PicameraSource:
    """A Pi camera: ``start()``, ``capture(timeout)``, ``close()``, ``missed``."""

    kind = "picamera2"

    def __init__(self, camera: int, fps: float, capture_timeout: float) -> None:
        self.camera = camera
        self.fps = fps
        self.capture_timeout = capture_timeout
        self.missed = 0                      # frames the sensor produced that we never saw
        self._cam: Any = None
        self._mapped_array: Any = None
        self._lores_size = LORES_SIZE
        self._last_sensor_ns = 0
        self._interrupted = threading.Event()
        self._job: Any = None                # the capture job being waited for, across slices

    def start(self) -> None:
        try:
            from picamera2 import MappedArray, Picamera2
        except Exception as exc:  # ImportError, or libcamera missing underneath it
            raise CameraFailed(f"picamera2 cannot be imported: {exc}") from None
        self._mapped_array = MappedArray
        try:
            self._cam = Picamera2(camera_num=self.camera)
        except Exception as exc:
            raise CameraFailed(f"Pi camera {self.camera} cannot be opened: {_reason(exc)}") from None
        try:
            config = self._cam.create_video_configuration(
                main={"format": "YUV420", "size": HD_SIZE},
                lores={"format": "YUV420", "size": LORES_SIZE},
                buffer_count=BUFFER_COUNT,
                controls={"FrameRate": self.fps})
            self._cam.configure(config)
            self._cam.start()
        except Exception as exc:
            raise CameraFailed(f"Pi camera {self.camera} cannot be configured and started: {_reason(exc)}") from None
        # The configuration as the camera accepted it (libcamera may adjust sizes and strides).
        applied = self._cam.camera_config
        main, lores = applied["main"], applied["lores"]
        if tuple(main["size"]) != HD_SIZE:
            raise CameraFailed(f"Pi camera {self.camera}: main stream is {main['size']}, {HD_SIZE} is needed")
        lw, lh = lores["size"]
        if lw < SD_SIZE[0] or lh < SD_SIZE[1]:
            raise CameraFailed(f"Pi camera {self.camera}: lores stream is {lores['size']}, at least {SD_SIZE} "
                               f"is needed")
        self._lores_size = (lw, lh)

    def interrupt(self) -> None:
        """Make a waiting ``capture`` return None soon (SIGTERM/SIGINT)."""
        self._interrupted.set()

    def capture(self, timeout: float) -> CapturedFrame | None:
        """The next frame; None when interrupted; CameraFailed after ``timeout`` s without one."""
        return wait_in_slices(self._next, timeout, WAIT_SLICE_S, self._interrupted,
                              f"Pi camera {self.camera}: no frame for {timeout:g} s (cable loose or camera hung)")

    def _next(self, wait_s: float) -> "_PiFrame":
        # One queued job, waited for in slices: a capture_request(wait=t) that times out
        # stays queued inside Picamera2 and would later take a buffer nobody releases.
        try:
            if self._job is None:
                self._job = self._cam.capture_request(wait=False)
            request = self._cam.wait(self._job, timeout=wait_s)
        except concurrent.futures.TimeoutError:
            raise SliceTimeout from None
        except Exception as exc:
            self._job = None
            raise CameraFailed(f"Pi camera {self.camera}: capture failed: {_reason(exc)}") from None
        self._job = None
        return self._frame(request)

    def _frame(self, request: Any) -> "_PiFrame":
        try:
            sensor_ns = int(request.get_metadata()["SensorTimestamp"])
        except Exception as exc:
            request.release()
            raise CameraFailed(f"Pi camera {self.camera}: frame without a sensor timestamp: "
                               f"{_reason(exc)}") from None
        if self._last_sensor_ns:
            period = 1e9 / self.fps
            gap = round((sensor_ns - self._last_sensor_ns) / period)
            if gap > 1:
                self.missed += gap - 1
        self._last_sensor_ns = sensor_ns
        # SensorTimestamp is CLOCK_MONOTONIC; the wall time of the same instant follows from it.
        wall_ns = time.time_ns() - (time.monotonic_ns() - sensor_ns)
        return _PiFrame(self, request, sensor_ns, wall_ns)

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        try:
            cam.stop()
        finally:
            cam.close()


class _PiFrame(CapturedFrame):
    def __init__(self, source: PicameraSource, request: Any, mono_ns: int, wall_ns: int) -> None:
        super().__init__(mono_ns, wall_ns)
        self.source = source
        self.request = request

    def fill(self, hd: Planes, sd: Planes) -> None:
        source = self.source
        with source._mapped_array(self.request, "main") as m:
            for dst, src in zip(hd, yuv420_planes(m.array, *HD_SIZE)):
                np.copyto(dst, src)
        with source._mapped_array(self.request, "lores") as m:
            lores = yuv420_planes(m.array, *self.source._lores_size)
            for dst, src in zip(sd, centre_crop(lores, *SD_SIZE)):
                np.copyto(dst, src)

    def release(self) -> None:
        request, self.request = self.request, None
        if request is not None:
            request.release()


def _reason(exc: BaseException) -> str:
    """The message, with the cause when the library wraps one (e.g. 'Device or resource busy')."""
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({cause})"
    return text
