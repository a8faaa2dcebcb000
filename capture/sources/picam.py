"""The Raspberry Pi camera through Picamera2.

One ``Picamera2`` per process, opened and configured once (the library leaks memory
when a camera is reopened or reconfigured); when the camera fails, :class:`CameraFailed`
ends the process and the supervisor starts a fresh one.

Two YUV420 streams: ``main`` 1280x720 fills the hd ring; ``lores`` is 16:9 and 480
lines high, and its centre 640x480 fills the sd ring, so the sd picture is cropped,
never squeezed.  Rows in a camera buffer are padded to the stride; only the picture
columns are copied.  ``picamera2`` is imported here only: it needs libcamera.

Colours: the streams are asked for sYCC (full-range BT.601, what JPEG and the rings use);
if the camera applies a limited-range colour space instead, the copy expands the range.
A camera number that libcamera does not list is :class:`CameraAbsent` (a state), whichever
way the installed Picamera2 release reports it; so is a camera pinned by ``camera.ids``
that is not connected (:mod:`common.camera.ports`).  The sensor mode is chosen here, for
the whole field of view (:mod:`common.camera.sensor_mode`), and a lens that can focus is
set as ``camera.autofocus`` says (:mod:`capture.sources.focus`).
"""
from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from capture.sources.base import (
    CameraAbsent,
    CameraFailed,
    CameraStackBroken,
    CapturedFrame,
    Planes,
    SliceTimeout,
    wait_in_slices,
)
from capture.sources.devices import access_problem
from capture.sources.focus import focus_controls
from common.camera import sensor_mode
from common.camera.ports import PinError, matches, pinned_index
from common.camera.sensor_mode import ModeChoice
from common.video.colour import expand_range
from common.video.streams import STREAMS

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


def installed() -> bool:
    """True when a ``picamera2`` package is on the path (whether or not it imports)."""
    return importlib.util.find_spec("picamera2") is not None


def import_error() -> str:
    """'' when picamera2 imports, else the error in one line (e.g. libcamera or numpy ABI)."""
    try:
        import picamera2  # noqa: F401  (only importable on a Pi: it needs libcamera)
    except Exception as exc:
        return one_line(exc)
    return ""


def camera_ids() -> list[str]:
    """The Ids of the Pi cameras Picamera2 lists, in its numbering, without opening one; [] when
    it cannot be imported."""
    try:
        from picamera2 import Picamera2
        return [str(info.get("Id", "")) for info in Picamera2.global_camera_info()]
    except Exception:
        return []


def cameras_listed() -> int:
    """How many Pi cameras Picamera2 lists, without opening one; 0 when it cannot be imported."""
    return len(camera_ids())


PROBE_TIMEOUT_S = 30.0


def camera_ids_afresh() -> list[str] | None:
    """Camera Ids listed by a new process (libcamera enumerates once per process); None if it fails."""
    code = "import json; from capture.sources.picam import camera_ids; print(json.dumps(camera_ids()))"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                             cwd=Path(__file__).resolve().parents[2])  # the repository
        ids = json.loads(out.stdout.strip().splitlines()[-1])
        return [str(i) for i in ids] if isinstance(ids, list) else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def listed_now(camera: int, pin: str) -> bool:
    """Would camera ``camera`` (pinned by ``pin``, or by number) be found if opened now?"""
    ids = camera_ids_afresh()
    if ids is None:
        return False
    return any(matches(i, pin) for i in ids) if pin else len(ids) > camera


def is_full_range(colour_space: Any) -> bool:
    import libcamera
    return colour_space is not None and colour_space.range == libcamera.ColorSpace.Range.Full


def describe_colour_space(colour_space: Any) -> str:
    """E.g. 'Sycc (full range, Rec601 matrix)'."""
    if colour_space is None:
        return "none given"
    import libcamera

    def same(a: Any, b: Any) -> bool:  # field by field: the binding itself has no equality
        return all(getattr(a, f) == getattr(b, f) for f in ("primaries", "transferFunction", "ycbcrEncoding", "range"))
    name = next((n for n in ("Sycc", "Smpte170m", "Rec709") if same(colour_space, getattr(libcamera.ColorSpace, n)())),
                "custom")
    range_ = "full" if is_full_range(colour_space) else "limited"
    matrix = getattr(colour_space.ycbcrEncoding, "name", str(colour_space.ycbcrEncoding))
    return f"{name} ({range_} range, {matrix} matrix)"


class PicameraSource:
    """A Pi camera: ``start()``, ``capture(timeout)``, ``close()``, ``missed``."""

    kind = "picamera2"

    def __init__(self, camera: int, fps: float, capture_timeout: float, *, pin: str = "",
                 autofocus: str = "continuous", lens_position: float = 0.0) -> None:
        self.camera = camera
        self.pin = pin                       # camera.ids: the Id (part) this camera must have
        self.autofocus = autofocus
        self.lens_position = lens_position
        self.camera_id = ""                  # libcamera's Id of the camera opened
        self.mode: ModeChoice | None = None  # the sensor mode configured
        self.focus = "unknown"
        self.fps = fps
        self.capture_timeout = capture_timeout
        self.missed = 0                      # frames the sensor produced that we never saw
        self._cam: Any = None
        self._mapped_array: Any = None
        self._lores_size = LORES_SIZE
        self.colour_space = "unknown"
        self.expand_range = False            # the camera gave limited range: expand on copy
        self._last_sensor_ns = 0
        self._interrupted = threading.Event()
        self._job: Any = None                # the capture job being waited for, across slices

    def start(self) -> None:
        try:
            import libcamera
            from picamera2 import MappedArray, Picamera2
        except Exception as exc:  # ImportError, libcamera missing underneath it, numpy ABI ...
            raise CameraStackBroken(f"picamera2 cannot be imported: {one_line(exc)}") from None
        self._mapped_array = MappedArray
        try:
            cameras = Picamera2.global_camera_info()
        except Exception as exc:
            raise CameraFailed(f"Pi cameras cannot be listed: {_reason(exc)}") from None
        number = self.camera
        if self.pin:
            try:
                number = pinned_index(cameras, self.pin, self.camera)
            except PinError as exc:
                denied = access_problem()
                raise CameraAbsent(f"{exc}; but first: {denied}" if denied else str(exc)) from None
        elif self.camera >= len(cameras):
            raise CameraAbsent(_absent(self.camera, len(cameras)))
        self.camera_id = str(cameras[number].get("Id", ""))
        try:
            self._cam = Picamera2(camera_num=number)
        except IndexError:  # releases up to 0.3.36, when the camera list changed meanwhile
            raise CameraAbsent(_absent(self.camera, len(Picamera2.global_camera_info()))) from None
        except Exception as exc:
            if "No camera number" in str(exc):  # 0.3.37 and later
                raise CameraAbsent(_absent(self.camera, len(Picamera2.global_camera_info()))) from None
            raise CameraFailed(f"Pi camera {self.camera} cannot be opened: {_reason(exc)}") from None
        try:
            # Read once, before the one configure: listing the modes configures the camera
            # once per mode (picamera2's sensor_modes).
            modes = self._cam.sensor_modes
            choice = sensor_mode.choose(modes, HD_SIZE, self.fps)
            lens, self.focus = focus_controls(self._cam.camera_controls, self.autofocus, self.lens_position)
            config = self._cam.create_video_configuration(
                main={"format": "YUV420", "size": HD_SIZE},
                lores={"format": "YUV420", "size": LORES_SIZE},
                colour_space=libcamera.ColorSpace.Sycc(),
                buffer_count=BUFFER_COUNT,
                controls={"FrameRate": self.fps} | lens,
                sensor=choice.sensor_config() if choice else {})
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
        self.mode = sensor_mode.applied(modes, applied.get("sensor"), HD_SIZE)
        applied_cs = applied.get("colour_space")
        self.colour_space = describe_colour_space(applied_cs)
        self.expand_range = applied_cs is not None and not is_full_range(applied_cs)

    def details(self) -> str:
        """Which camera was opened, its sensor mode and its focus, in words."""
        mode = self.mode.describe() if self.mode else "sensor mode not reported"
        return f"{self.camera_id or 'camera ' + str(self.camera)}; {mode}; focus: {self.focus}"

    def interrupt(self) -> None:
        """Make a waiting ``capture`` return None soon (SIGTERM/SIGINT)."""
        self._interrupted.set()

    def capture(self, timeout: float) -> CapturedFrame | None:
        """The next frame; None when interrupted; CameraFailed after ``timeout`` s without one."""
        return wait_in_slices(self._next, timeout, WAIT_SLICE_S, self._interrupted,
                              f"Pi camera {self.camera}: no frame for {timeout:g} s (cable loose or camera hung)")

    def _next(self, wait_s: float) -> _PiFrame:
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

    def _frame(self, request: Any) -> _PiFrame:
        try:
            metadata = request.get_metadata()
            sensor_ns = int(metadata["SensorTimestamp"])
        except Exception as exc:
            request.release()
            raise CameraFailed(f"Pi camera {self.camera}: frame without a sensor timestamp: "
                               f"{_reason(exc)}") from None
        if self._last_sensor_ns:
            # The sensor's own frame time (longer than the asked one in low light), else the asked one.
            duration_us = metadata.get("FrameDuration") or 1e6 / self.fps
            gap = round((sensor_ns - self._last_sensor_ns) / (duration_us * 1000))
            if gap > 1:
                self.missed += gap - 1
        self._last_sensor_ns = sensor_ns
        # SensorTimestamp is CLOCK_MONOTONIC; the wall time of the same instant follows from it.
        wall_ns = time.time_ns() - (time.monotonic_ns() - sensor_ns)
        return _PiFrame(sensor_ns, wall_ns, self, request)

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        try:
            cam.stop()
        finally:
            cam.close()


@dataclass(eq=False)
class _PiFrame(CapturedFrame):
    source: PicameraSource
    request: Any

    def fill(self, hd: Planes, sd: Planes) -> None:
        source = self.source
        with source._mapped_array(self.request, "main", write=False) as m:
            for dst, src in zip(hd, yuv420_planes(m.array, *HD_SIZE)):
                np.copyto(dst, src)
        with source._mapped_array(self.request, "lores", write=False) as m:
            lores = yuv420_planes(m.array, *self.source._lores_size)
            for dst, src in zip(sd, centre_crop(lores, *SD_SIZE)):
                np.copyto(dst, src)
        if source.expand_range:
            expand_range(*hd)
            expand_range(*sd)

    def release(self) -> None:
        request, self.request = self.request, None
        if request is not None:
            request.release()


def _absent(camera: int, listed: int) -> str:
    denied = access_problem()
    if denied:  # libcamera lists no camera it may not open: that is not a cable
        return f"camera {camera} not listed by libcamera ({listed} listed): {denied}"
    return (f"camera {camera} not connected (libcamera lists {listed} camera{'' if listed == 1 else 's'}; "
            f"check the ribbon cable, then `rpicam-hello --list-cameras`)")


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (import errors can span several)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _reason(exc: BaseException) -> str:
    """The message, with the cause when the library wraps one (e.g. 'Device or resource busy')."""
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({cause})"
    return text
