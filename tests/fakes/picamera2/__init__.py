"""A stand-in for the ``picamera2`` package that behaves like the real API where the
capture source depends on it (see the project's Picamera2 facts).

Put ``tests/fakes`` on ``PYTHONPATH`` (or ``sys.path``) and ``import picamera2`` finds
this package.  Behaviour copied from the real library:

- ``Picamera2.global_camera_info()`` lists the cameras without opening one;
- a camera number beyond the ones listed fails as the chosen release does
  (``FAKE_PICAMERA2_VERSION``): a bare ``IndexError`` up to 0.3.36, ``RuntimeError("No camera
  number N found ...")`` from 0.3.37;
- one camera is owned by one opener: a second opener, in this or another process, gets
  ``RuntimeError("Camera __init__ sequence did not complete.")`` (an ``flock``, which dies
  with the process like the real camera lock);
- stream dicts accept only ``format``, ``size``, ``stride``, ``preserve_ar`` (ValueError
  "Bad key"); sizes must be even tuples; lores may not exceed main; ``FrameRate`` becomes
  ``FrameDurationLimits``; unknown controls are refused; ``configure`` while running fails;
- without ``colour_space`` a 1280x720 main stream gets Rec.709 limited range, a smaller one
  SMPTE 170M; after ``configure`` the applied one is in ``camera_config["colour_space"]``;
- YUV420 buffers have stride padding (widths aligned to 128 pixels), arrays come as
  ``(h*3//2, stride)``;
- ``capture_request(wait=False)`` returns a :class:`Job`; ``wait(job, timeout)`` raises
  ``concurrent.futures.TimeoutError`` and leaves the job queued;
- ``capture_request(wait=s)`` raises ``concurrent.futures.TimeoutError`` when no frame
  comes in time, and ``wait=None`` blocks for ever (as with a loose cable);
- only ``buffer_count`` requests exist: holding them all starves the camera;
- cameras are listed sorted by Id, highest first (``global_camera_info``), so one camera on
  CAM1 is camera 0; each sensor has its published modes (``sensor_modes``), and ``configure``
  picks the mode as picamera2 does: the ``sensor`` output size and bit depth when given, else
  the raw stream's size (the main stream's by default) at the native bit depth, scored like
  picamera2; the applied one is in ``camera_config["sensor"]`` and the frame rate is capped
  at the mode's; only an IMX708 advertises ``AfMode`` and ``LensPosition``.

Knobs for tests, read when a camera is opened (environment, so a subprocess obeys them):
``FAKE_PICAMERA2_CAMERAS`` (cameras listed, default 2; ``FAKE_PICAMERA2_CAMERAS_FILE`` names a
file holding the number instead, read at every call, so a test can "plug a camera in"),
``FAKE_PICAMERA2_PORTS`` (the connectors that have a camera, e.g. ``1``; default the first
``FAKE_PICAMERA2_CAMERAS`` of 0 and 1; ``FAKE_PICAMERA2_PORTS_FILE`` names a file holding them
instead, read at every call), ``FAKE_PICAMERA2_SENSORS`` (the model on each connected
port in that order, e.g. ``imx219,imx708_wide``; default imx708: see :mod:`.sensors`),
``FAKE_PICAMERA2_VERSION`` (default 0.3.38), ``FAKE_PICAMERA2_LOCK_DIR``,
``FAKE_PICAMERA2_STALL_AFTER`` (frames delivered before the camera goes silent),
``FAKE_PICAMERA2_STRIDE_ALIGN`` (pixels, default 128), ``FAKE_PICAMERA2_COLOUR_SPACE``
(``Sycc``, ``Smpte170m`` or ``Rec709``: what the pipeline applies whatever was asked),
``FAKE_PICAMERA2_RGB`` (``R,G,B``: every frame is that colour, encoded in the applied colour
space) and ``FAKE_PICAMERA2_FRAME_US`` (the sensor's real frame duration, when it cannot keep
the requested rate, e.g. in low light), ``FAKE_PICAMERA2_HANG`` (``capture``:
after ``FAKE_PICAMERA2_HANG_AFTER`` frames (default 0) every capture or wait blocks for ever,
whatever its timeout; ``close``: ``stop()`` and ``close()`` block for ever), as a wedged
camera stack does.
"""
from __future__ import annotations

import concurrent.futures
import fcntl
import os
import tempfile
import threading
import time
from typing import Any

import numpy as np

try:
    from libcamera import ColorSpace, Transform
except ImportError:  # imported as tests.fakes.picamera2 (for its helpers): the sibling fake
    from ..libcamera import ColorSpace, Transform

from .sensors import SENSORS, camera_id, picamera2_choice

__all__ = ["CompletedRequest", "Job", "MappedArray", "Picamera2", "pattern"]

_STREAM_KEYS = ("format", "size", "stride", "preserve_ar")
_CONTROLS = {"FrameDurationLimits": (33333, 1000000, 33333), "ExposureTime": (9, 1000000, 20000),
             "AnalogueGain": (1.0, 16.0, 1.0), "AeEnable": (False, True, None), "AwbEnable": (False, True, None),
             "NoiseReductionMode": (0, 4, 0), "Brightness": (-1.0, 1.0, 0.0), "Contrast": (0.0, 32.0, 1.0),
             "ScalerCrop": ((0, 0, 64, 64), (0, 0, 4608, 2592), (0, 0, 4608, 2592))}
# The lens controls of a camera with autofocus (IMX708): AfMode Manual/Auto/Continuous (0..2),
# LensPosition in dioptres, 1.0 by default (libcamera's imx708 tuning).
_AF_CONTROLS = {"AfMode": (0, 2, 0), "AfTrigger": (0, 1, 0), "LensPosition": (0.0, 15.0, 1.0)}
_YUV = ("YUV420", "YVU420")
_RGB = {"RGB888": 3, "BGR888": 3, "XBGR8888": 4, "XRGB8888": 4}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


def _camera_count() -> int:
    path = os.environ.get("FAKE_PICAMERA2_CAMERAS_FILE", "")
    if path and os.path.exists(path):
        with open(path) as fh:
            return int(fh.read().strip() or 0)
    return _env_int("FAKE_PICAMERA2_CAMERAS", 2)


def _listed() -> list[tuple[int, str]]:
    """(port, model) of each connected camera, in port order."""
    path = os.environ.get("FAKE_PICAMERA2_PORTS_FILE", "")
    if path and os.path.exists(path):
        with open(path) as fh:
            raw = fh.read().strip() or ","   # an empty file: no camera at all
    else:
        raw = os.environ.get("FAKE_PICAMERA2_PORTS", "")
    ports = [int(p) for p in raw.split(",") if p.strip()] if raw.strip() else list(range(min(_camera_count(), 2)))
    models = [m.strip() for m in os.environ.get("FAKE_PICAMERA2_SENSORS", "").split(",") if m.strip()]
    return [(port, models[i] if i < len(models) else (models[-1] if models else "imx708"))
            for i, port in enumerate(ports)]


def _version() -> tuple[int, ...]:
    return tuple(int(x) for x in os.environ.get("FAKE_PICAMERA2_VERSION", "0.3.38").split("."))


def _lock_dir() -> str:
    path = os.environ.get("FAKE_PICAMERA2_LOCK_DIR") or os.path.join(tempfile.gettempdir(),
                                                                    f"fake-picamera2-{os.getuid()}")
    os.makedirs(path, exist_ok=True)
    return path


def pattern(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The picture every fake YUV420 stream shows: Y, U, V that differ at every position."""
    r, c = np.mgrid[0:height, 0:width]
    y = ((c + 5 * r) % 200 + 20).astype(np.uint8)
    rc, cc = np.mgrid[0:height // 2, 0:width // 2]
    u = ((cc + rc) % 100 + 60).astype(np.uint8)
    v = ((2 * cc + rc) % 100 + 90).astype(np.uint8)
    return y, u, v


def solid(rgb: tuple[int, int, int], colour_space: ColorSpace) -> tuple[int, int, int]:
    """Y, Cb, Cr of one R'G'B' colour (0-255) in a colour space's matrix and range."""
    kr, kb = (0.2126, 0.0722) if colour_space.ycbcrEncoding == ColorSpace.YcbcrEncoding.Rec709 else (0.299, 0.114)
    r, g, b = (c / 255.0 for c in rgb)
    y = kr * r + (1 - kr - kb) * g + kb * b
    pb, pr = (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))
    if colour_space.range == ColorSpace.Range.Full:
        yuv = (255 * y, 128 + 255 * pb, 128 + 255 * pr)
    else:
        yuv = (16 + 219 * y, 128 + 224 * pb, 128 + 224 * pr)
    return tuple(int(np.clip(round(c), 0, 255)) for c in yuv)


PAD_BYTE = 0xEE  # what the stride padding holds, so a copy that keeps it shows


def _buffer(cfg: dict[str, Any], colour_space: ColorSpace) -> np.ndarray:
    w, h = cfg["size"]
    stride = cfg["stride"]
    buf = np.full(cfg["framesize"], PAD_BYTE, np.uint8)
    if cfg["format"] in _YUV:
        y, u, v = pattern(w, h)
        rgb = os.environ.get("FAKE_PICAMERA2_RGB", "")
        if rgb:
            sy, su, sv = solid(tuple(int(c) for c in rgb.split(",")), colour_space)
            y[:], u[:], v[:] = sy, su, sv
        buf[:stride * h].reshape(h, stride)[:, :w] = y
        chroma = buf[stride * h:].reshape(h, stride // 2)
        chroma[:h // 2, :w // 2] = u
        chroma[h // 2:, :w // 2] = v
    else:
        buf[:] = 100
    return buf


class CompletedRequest:
    """A captured frame's buffers; must be released, or the camera runs out of them."""

    def __init__(self, picam2: Picamera2, slot: int, metadata: dict[str, Any]) -> None:
        self.picam2 = picam2
        self.ref_count = 1
        self.config = {k: dict(v) for k, v in picam2.camera_config.items()
                       if k in ("main", "lores") and v is not None}
        self.request: int | None = slot
        self._metadata = metadata

    def acquire(self) -> None:
        with self.picam2._lock:
            if self.ref_count == 0:
                raise RuntimeError("CompletedRequest: acquiring lock with ref_count 0")
            self.ref_count += 1

    def release(self) -> None:
        with self.picam2._lock:
            self.ref_count -= 1
            if self.ref_count < 0:
                raise RuntimeError("CompletedRequest: lock now has negative ref_count")
            if self.ref_count == 0:
                self.picam2._held.discard(self.request)
                self.picam2.released += 1
                self.request = None

    def _buffer(self, name: str) -> np.ndarray:
        if name not in self.config:
            raise RuntimeError(f"Stream {name!r} is not defined")
        assert self.request is not None
        return self.picam2._buffers[name][self.request]

    def make_buffer(self, name: str) -> np.ndarray:
        return np.array(self._buffer(name), dtype=np.uint8)

    def get_metadata(self) -> dict[str, Any]:
        assert self.request is not None
        return dict(self._metadata)

    def make_array(self, name: str) -> np.ndarray:
        with MappedArray(self, name) as m:
            return np.ascontiguousarray(m.array)


def _shape(buffer: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    w, h = cfg["size"]
    stride = cfg["stride"]
    if cfg["format"] in _YUV:
        return buffer.reshape(h * 3 // 2, stride)
    depth = _RGB[cfg["format"]]
    return buffer.reshape(h, stride)[:, :w * depth].reshape(h, w, depth)


class MappedArray:
    """Zero-copy view of a request's buffer, valid inside the ``with`` block only."""

    def __init__(self, request: CompletedRequest, stream: str, reshape: bool = True, write: bool = True) -> None:
        self._request, self._stream, self._reshape, self._write = request, stream, reshape, write
        self._array: np.ndarray | None = None

    def __enter__(self) -> MappedArray:
        buf = self._request._buffer(self._stream)
        array = _shape(buf, self._request.config[self._stream]) if self._reshape else buf
        if not self._write:  # the real one maps the buffer read-only
            array = array.view()
            array.flags.writeable = False
        self._array = array
        return self

    def __exit__(self, *exc: object) -> None:
        self._array = None

    @property
    def array(self) -> np.ndarray | None:
        return self._array


class Job:
    """A queued capture (``capture_request(wait=False)``): waiting again waits for the same frame."""

    def __init__(self, picam2: Picamera2) -> None:
        self._picam2 = picam2
        self._result: CompletedRequest | None = None

    def get_result(self, timeout: float | None = None) -> CompletedRequest:
        if self._result is None:
            self._result = self._picam2._capture(timeout)
        return self._result


class Picamera2:
    # Counters a test can read after the fact.
    opened = 0

    def __init__(self, camera_num=0, verbose_console=None, tuning=None, allocator=None):
        self.camera = None
        self.started = False
        self.camera_config: dict[str, Any] | None = None
        self.camera_num = camera_num
        self.released = 0          # requests given back
        self.delivered = 0         # requests handed out
        self.abandoned = 0         # timed-out capture jobs still queued
        self.leaked = 0            # buffers those jobs took and nobody will release
        self._lock = threading.Lock()
        self._held: set[int] = set()
        self._buffers: dict[str, list[np.ndarray]] = {}
        self._lockfile: int | None = None
        # Like the real constructor, before its try block: 0.3.37 added the guard, older
        # releases index the camera list and raise a bare IndexError.
        if _version() >= (0, 3, 37) and camera_num >= len(self.global_camera_info()):
            raise RuntimeError(f'No camera number {camera_num} found - use "rpicam-hello --list-cameras" '
                               f'to check connected cameras')
        info = self.global_camera_info()[camera_num]
        camera_num = info["Num"]
        self.model = info["Model"]
        self._sensor = SENSORS[self.model]
        fd = os.open(os.path.join(_lock_dir(), f"camera{camera_num}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            try:
                raise RuntimeError("Failed to acquire camera: Device or resource busy")
            except RuntimeError as e:
                raise RuntimeError("Camera __init__ sequence did not complete.") from e
        self._lockfile = fd
        self.camera = f"fake-{self.model}-{camera_num}"
        self.stall_after = _env_int("FAKE_PICAMERA2_STALL_AFTER", -1)
        self.stride_align = _env_int("FAKE_PICAMERA2_STRIDE_ALIGN", 128)
        self.hang = os.environ.get("FAKE_PICAMERA2_HANG", "")
        self.hang_after = _env_int("FAKE_PICAMERA2_HANG_AFTER", 0)
        Picamera2.opened += 1

    @property
    def sensor_modes(self) -> list[dict[str, Any]]:
        """This camera's sensor modes, as the real property lists them."""
        return self._sensor.sensor_modes()

    @property
    def camera_controls(self) -> dict[str, tuple[Any, Any, Any]]:
        """(min, max, default) of each control the camera advertises."""
        return dict(_CONTROLS) | (dict(_AF_CONTROLS) if self._sensor.autofocus else {})

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        cameras = [{"Model": model, "Location": 2, "Rotation": 180, "Id": camera_id(model, port), "Num": num}
                   for num, (port, model) in enumerate(_listed())]
        # Like picamera2 (and rpicam-apps): by Id, highest first, so the numbering does not
        # depend on libcamera's enumeration order.
        return sorted(cameras, key=lambda c: c["Id"], reverse=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_traceback):
        self.close()

    # -- configuration ----------------------------------------------------------------------
    @staticmethod
    def _stream(defaults: dict[str, Any], updates: dict[str, Any] | None) -> dict[str, Any] | None:
        if updates is None:
            return None
        for key, value in updates.items():
            if key not in _STREAM_KEYS:
                raise ValueError(f"Bad key {key!r}: valid stream configuration keys are {_STREAM_KEYS}")
            defaults[key] = value
        return defaults

    # picamera2's own signature, mutable defaults and all (the contract test compares them).
    def create_video_configuration(self, main={}, lores=None, raw={}, transform=Transform(), colour_space=None,  # noqa: B006, B008
                                   buffer_count=6, controls={}, display="main", encode="main", queue=True,  # noqa: B006
                                   sensor={}, use_case="video") -> dict[str, Any]:  # noqa: B006
        if self.camera is None:
            raise RuntimeError("Camera not opened")
        main_cfg = self._stream({"format": "XBGR8888", "size": (1280, 720), "preserve_ar": True}, main)
        lores_cfg = self._stream({"format": "YUV420", "size": main_cfg["size"], "preserve_ar": False}, lores)
        if colour_space is None:  # the library's choice by resolution
            small = main_cfg["size"][0] < 1280 or main_cfg["size"][1] < 720
            colour_space = ColorSpace.Smpte170m() if small else ColorSpace.Rec709()
        return {"use_case": use_case, "transform": transform, "colour_space": colour_space,
                "buffer_count": buffer_count, "queue": queue, "main": main_cfg, "lores": lores_cfg, "raw": raw,
                "controls": {"FrameDurationLimits": (33333, 33333)} | dict(controls), "sensor": sensor,
                "display": display, "encode": encode}

    def _check_stream(self, cfg: Any, name: str) -> None:
        if type(cfg) is not dict:
            raise RuntimeError(name + " stream should be a dictionary")
        fmt, size = cfg.get("format"), cfg.get("size")
        if fmt not in _YUV and fmt not in _RGB:
            raise RuntimeError(f"Bad format {fmt} in stream {name}")
        if type(size) is not tuple or len(size) != 2:
            raise RuntimeError("size in " + name + " stream should be (width, height)")
        if size[0] % 2 or size[1] % 2:
            raise RuntimeError("width and height should be even")

    def configure(self, camera_config=None) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if self.camera is None:
            raise RuntimeError("Camera not opened")
        config = dict(camera_config)  # a shallow copy, as Picamera2 makes: stream dicts are shared
        self._check_stream(config["main"], "main")
        if config.get("lores") is not None:
            self._check_stream(config["lores"], "lores")
            (mw, mh), (lw, lh) = config["main"]["size"], config["lores"]["size"]
            if lw > mw or lh > mh:
                raise RuntimeError("lores stream dimensions may not exceed main stream")
        controls: dict[str, Any] = {}
        advertised = self.camera_controls
        for name, value in config.get("controls", {}).items():
            if name == "FrameRate":
                name, value = "FrameDurationLimits", (int(1000000 / value), int(1000000 / value))
            if name not in advertised:
                raise RuntimeError(f"Control {name} is not advertised by libcamera")
            controls[name] = value
        config["controls"] = controls
        self.mode = self._choose_mode(config)
        config["sensor"] = {"bit_depth": self.mode["bit_depth"], "output_size": self.mode["size"]}
        if not isinstance(config.get("colour_space"), ColorSpace):
            raise RuntimeError("Colour space has incorrect type")
        forced = os.environ.get("FAKE_PICAMERA2_COLOUR_SPACE", "")
        self.requested_colour_space = config["colour_space"]
        config["colour_space"] = getattr(ColorSpace, forced)() if forced else config["colour_space"]
        self._buffers = {}
        for name in ("main", "lores"):
            stream = config.get(name)
            if stream is None:
                continue
            w, h = stream["size"]
            if stream["format"] in _YUV:
                stride = -(-w // self.stride_align) * self.stride_align
                stream["framesize"] = stride * h * 3 // 2
            else:
                stride = -(-w * _RGB[stream["format"]] // 64) * 64
                stream["framesize"] = stride * h
            stream["stride"] = stride
            self._buffers[name] = [_buffer(stream, config["colour_space"]) for _ in range(config["buffer_count"])]
        self.camera_config = config
        # A mode slower than the rate asked for runs at its own (as the sensor would).
        self.frame_duration_us = _env_int("FAKE_PICAMERA2_FRAME_US", 0) or \
            max(controls.get("FrameDurationLimits", (33333, 33333))[0], int(1e6 / self.mode["fps"]))

    def _choose_mode(self, config: dict[str, Any]) -> dict[str, Any]:
        sensor = config.get("sensor") or {}
        bad = set(sensor) - {"bit_depth", "output_size"}
        if bad:
            raise RuntimeError(f"Unexpected keys {bad} in sensor configuration")
        raw = config.get("raw") or {}
        size = sensor.get("output_size") or raw.get("size") or config["main"]["size"]
        bit_depth = sensor.get("bit_depth") or self._sensor.native[1]
        return picamera2_choice(self.sensor_modes, tuple(size), bit_depth)

    # -- running ----------------------------------------------------------------------------
    def start(self, config=None, show_preview=False) -> None:
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        if not self.started:
            self.started = True
            self._start_ns = time.monotonic_ns()
            self._frame = -1

    def stop(self) -> None:
        if self.hang == "close":
            threading.Event().wait()  # the camera stack never returns
        self.started = False

    def close(self) -> None:
        if self.camera is None:
            return
        if self.hang == "close":
            threading.Event().wait()
        self.stop()
        self.camera = None
        if self._lockfile is not None:
            os.close(self._lockfile)  # closing the descriptor drops the flock
            self._lockfile = None

    def _no_frame(self, wait: float | None) -> None:
        if wait is None:
            threading.Event().wait()  # a silent camera: blocked for ever
        time.sleep(max(0.0, wait))
        raise concurrent.futures.TimeoutError()

    def capture_request(self, wait=None, signal_function=None, flush=None) -> CompletedRequest:
        if wait is False:
            return Job(self)  # the caller waits for it with wait(job, timeout)
        try:
            return self._capture(wait)
        except concurrent.futures.TimeoutError:
            # Like the real library, a timed-out wait leaves its job queued: the next frame
            # completes it, and that request is held by nobody.
            if wait is not None:
                with self._lock:
                    self.abandoned += 1
            raise

    def wait(self, job, timeout=None):
        return job.get_result(timeout=timeout)

    def _capture(self, wait: float | None) -> CompletedRequest:
        if self.hang == "capture" and self.delivered >= self.hang_after:
            threading.Event().wait()  # wedged: the timeout is not honoured
        if not self.started:
            self._no_frame(wait)
        with self._lock:
            free = [i for i in range(self.camera_config["buffer_count"]) if i not in self._held]
        silent = 0 <= self.stall_after <= self.delivered
        if not free or silent:
            self._no_frame(wait)  # all buffers held by the application, or the sensor went quiet
        period_ns = self.frame_duration_us * 1000
        now = time.monotonic_ns()
        # The newest frame already captured (queue=True), else the next one.
        frame = max(self._frame + 1, (now - self._start_ns) // period_ns)
        due = self._start_ns + frame * period_ns
        if due > now:
            delay = (due - now) / 1e9
            if wait is not None and delay > wait:
                time.sleep(wait)
                raise concurrent.futures.TimeoutError()
            time.sleep(delay)
        self._frame = frame
        with self._lock:
            while self.abandoned and len(free) > 1:
                self._held.add(free.pop(0))  # taken by an abandoned job: never released
                self.abandoned -= 1
                self.leaked += 1
            slot = free[0]
            self._held.add(slot)
        self.delivered += 1
        y_row = self._buffers["main"][slot]
        y_row[:8] = np.frombuffer(int(frame).to_bytes(8, "little"), np.uint8)  # frame number, for tests
        meta = {"SensorTimestamp": due, "FrameDuration": self.frame_duration_us, "ExposureTime": 10000,
                "AnalogueGain": 1.0}
        return CompletedRequest(self, slot, meta)

    def capture_array(self, name="main", wait=None, signal_function=None) -> np.ndarray:
        request = self.capture_request(wait=wait)
        try:
            return request.make_array(name)
        finally:
            request.release()
