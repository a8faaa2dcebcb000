"""Which source a camera uses: ``camera.source(s)``, and what ``auto`` finds.

The sources import nothing heavy at module level (Picamera2 and PyAV are imported when a
camera is opened), so importing them all here costs little on any machine.
"""
from __future__ import annotations

import sys

from capture.sources import picam
from capture.sources.av_source import AvSource
from capture.sources.base import CameraStackBroken, Source
from capture.sources.devices import pi_camera_devices
from capture.sources.picam import PicameraSource, cameras_listed
from capture.sources.synthetic import SyntheticSource
from common.config import Config


def picamera2_present() -> bool:
    """True when Picamera2 imports and lists at least one camera (without opening one)."""
    return cameras_listed() > 0


def resolve_kind(cfg: Config, camera: int = 0) -> tuple[str, str]:
    """The source kind to use for ``camera`` and why, in words for the log and status.

    ``auto`` falls back to the synthetic camera only when picamera2 is not installed and
    the kernel shows no Pi camera; an installed picamera2 that fails to import is
    :class:`CameraStackBroken`, never hidden behind synthetic pictures.
    """
    kind = cfg.camera_source(camera)
    if kind != "auto":
        key = "camera.sources" if camera < len(cfg.camera.sources) else "camera.source"
        return kind, f"{key} = {kind}"
    if picam.installed():
        error = picam.import_error()
        if error:
            raise CameraStackBroken(f"camera.source = auto: picamera2 is installed but cannot be imported: {error}")
        if picamera2_present():
            return "picamera2", "auto: a Pi camera was found"
        return "picamera2", "auto: picamera2 is installed (no camera listed yet)"
    devices = pi_camera_devices()
    if devices:
        raise CameraStackBroken(f"camera.source = auto: a Pi camera is attached ({', '.join(devices)}) but picamera2 "
                                f"is not installed for {sys.executable} (sudo apt install python3-picamera2; "
                                f"make the venv with --system-site-packages)")
    return "synthetic", ("auto: no Pi camera found (picamera2 not installed, no camera device), "
                         "using the synthetic camera")


def open_source(kind: str, camera: int, cfg: Config) -> Source:
    if kind == "synthetic":
        return SyntheticSource(camera, cfg.camera.fps, cfg.camera.synthetic_scene, cfg.camera.synthetic_motion_every,
                               cfg.run_dir)
    if kind == "picamera2":
        return PicameraSource(camera, cfg.camera.fps, cfg.camera.capture_timeout, pin=cfg.camera_id(camera),
                              autofocus=cfg.camera.autofocus, lens_position=cfg.camera.lens_position)
    if kind in ("file", "v4l2"):
        return AvSource.from_config(kind, camera, cfg)
    raise ValueError(f"unknown camera source {kind!r}")  # the configuration allows none other
