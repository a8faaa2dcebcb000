"""Which source a camera uses: ``camera.source(s)``, and what ``auto`` finds.

The sources import nothing heavy at module level (Picamera2 and PyAV are imported when a
camera is opened), so importing them all here costs little on any machine.
"""
from __future__ import annotations

from capture.av_source import AvSource
from capture.picam import PicameraSource, cameras_listed
from capture.source import Source
from capture.synthetic import SyntheticSource
from common.config import Config

def picamera2_present() -> bool:
    """True when Picamera2 imports and lists at least one camera (without opening one)."""
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


def open_source(kind: str, camera: int, cfg: Config) -> Source:
    if kind == "synthetic":
        return SyntheticSource(camera, cfg.camera.fps, cfg.camera.synthetic_motion_every)
    if kind == "picamera2":
        return PicameraSource(camera, cfg.camera.fps, cfg.camera.capture_timeout)
    if kind in ("file", "v4l2"):
        return AvSource.from_config(kind, camera, cfg)
    raise ValueError(f"unknown camera source {kind!r}")  # the configuration allows none other
