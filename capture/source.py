"""What every camera source gives the capture loop, and how `auto` picks one.

A source hands out one captured frame at a time; the loop then lets the frame fill the
two ring slots (hd 1280x720 and sd 640x480, I420) in place and releases it.
"""
from __future__ import annotations

import logging

import numpy as np

from common.config import Config

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # Y, U, V
log = logging.getLogger("capture")


class CameraFailed(Exception):
    """The camera stopped delivering; the process exits so the supervisor starts a fresh one."""


class CapturedFrame:
    """A frame held by the source until released.  Times are CLOCK_MONOTONIC / wall ns."""

    def __init__(self, mono_ns: int, wall_ns: int) -> None:
        self.mono_ns = mono_ns
        self.wall_ns = wall_ns

    def fill(self, hd: Planes, sd: Planes) -> None:
        raise NotImplementedError

    def release(self) -> None:
        """Give buffers back to the camera (Picamera2 requests must always be released)."""


def picamera2_present() -> bool:
    """True when Picamera2 imports and lists at least one camera (without opening one)."""
    try:
        from picamera2 import Picamera2  # only importable on a Pi (it needs libcamera)
    except Exception:
        return False
    try:
        return len(Picamera2.global_camera_info()) > 0
    except Exception:
        return False


def resolve_kind(cfg: Config) -> tuple[str, str]:
    """The source kind to use and why, in words for the log and status."""
    kind = cfg.camera.source
    if kind != "auto":
        return kind, f"camera.source = {kind}"
    if picamera2_present():
        return "picamera2", "auto: a Pi camera was found"
    return "synthetic", "auto: no Pi camera found (picamera2 missing or no camera listed), using the synthetic camera"


def open_source(kind: str, camera: int, cfg: Config):
    if kind == "synthetic":
        from capture.synthetic import SyntheticSource
        return SyntheticSource(camera, cfg.camera.fps)
    if kind == "picamera2":
        from capture.picam import PicameraSource
        return PicameraSource(camera, cfg.camera.fps, cfg.camera.capture_timeout)
    if kind in ("file", "v4l2"):
        from capture.av_source import AvSource
        return AvSource.from_config(kind, camera, cfg)
    raise ValueError(f"unknown camera source {kind!r}")
