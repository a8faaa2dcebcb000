"""What every camera source gives the capture loop, and how `auto` picks one.

A source hands out one captured frame at a time; the loop then lets the frame fill the
two ring slots (hd 1280x720 and sd 640x480, I420) in place and releases it.

A source has ``kind``, ``start()``, ``capture(timeout) -> CapturedFrame | None`` (None
only after ``interrupt()``), ``close()``, and optionally ``missed`` (frames lost at the
source) and ``interrupt()`` (asked on SIGTERM/SIGINT so a wait for the camera ends at once).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import logging
import threading
import time
from typing import Callable, TypeVar

import numpy as np

from common.config import Config

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # Y, U, V
T = TypeVar("T")
log = logging.getLogger("capture")


class CameraFailed(Exception):
    """The camera stopped delivering; the process exits so the supervisor starts a fresh one."""


class CapturedFrame(ABC):
    """A frame held by the source until released.  Times are CLOCK_MONOTONIC / wall ns."""

    def __init__(self, mono_ns: int, wall_ns: int) -> None:
        self.mono_ns = mono_ns
        self.wall_ns = wall_ns

    @abstractmethod
    def fill(self, hd: Planes, sd: Planes) -> None:
        """Copy (or render) the picture into the hd and sd ring slots."""

    def release(self) -> None:
        """Give buffers back to the camera (Picamera2 requests must always be released)."""


class SliceTimeout(Exception):
    """One slice of a wait passed without a frame; the wait goes on until its deadline."""


def wait_in_slices(attempt: Callable[[float], T], timeout: float, slice_s: float,
                   interrupted: threading.Event, silent: str) -> T | None:
    """Call ``attempt(seconds)`` until it returns a frame; None once ``interrupted`` is set.

    Waits are cut into slices so a stop request (SIGTERM) is seen within one slice;
    ``attempt`` raises :class:`SliceTimeout` when its slice passes without a frame.
    After ``timeout`` s without one: CameraFailed(``silent``).
    """
    deadline = time.monotonic() + timeout
    while not interrupted.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CameraFailed(silent)
        try:
            return attempt(min(slice_s, remaining))
        except SliceTimeout:
            continue
    return None


def picamera2_present() -> bool:
    """True when Picamera2 imports and lists at least one camera (without opening one)."""
    from capture.picam import cameras_listed
    return cameras_listed() > 0


def resolve_kind(cfg: Config, camera: int = 0) -> tuple[str, str]:
    """The source kind to use for ``camera`` and why, in words for the log and status."""
    kind = cfg.camera_source(camera)
    if kind != "auto":
        key = "camera.sources" if camera < len(cfg.camera.sources) else "camera.source"
        return kind, f"{key} = {kind}"
    if picamera2_present():
        return "picamera2", "auto: a Pi camera was found"
    return "synthetic", "auto: no Pi camera found (picamera2 missing or no camera listed), using the synthetic camera"


def open_source(kind: str, camera: int, cfg: Config):
    if kind == "synthetic":
        from capture.synthetic import SyntheticSource
        return SyntheticSource(camera, cfg.camera.fps, cfg.camera.synthetic_motion_every)
    if kind == "picamera2":
        from capture.picam import PicameraSource
        return PicameraSource(camera, cfg.camera.fps, cfg.camera.capture_timeout)
    if kind in ("file", "v4l2"):
        from capture.av_source import AvSource
        return AvSource.from_config(kind, camera, cfg)
    raise ValueError(f"unknown camera source {kind!r}")
