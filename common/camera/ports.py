"""Which Pi camera is camera N: libcamera's numbering, and pinning a camera to a connector.

Picamera2 (``global_camera_info``) and rpicam-apps (``GetCameras``) both number the cameras
by their Id, highest first: on a Pi 5 the camera on CAM/DISP 0 (RP1 ``i2c@88000``) comes
before the one on CAM/DISP 1 (``i2c@80000``), so a single camera on CAM1 is camera 0, and
unplugging CAM0 renumbers CAM1's camera.  ``camera.ids`` pins camera N to an Id, or to a
part of one such as the connector's bus: a pinned camera that is not connected is absent
(reported and looked for again), never replaced by whichever camera is there.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The Pi 5's connectors by the RP1 I2C bus in a camera's Id.
PI5_PORTS = {"i2c@88000": "CAM0", "i2c@80000": "CAM1"}


def port(camera_id: str) -> str:
    """'CAM0' / 'CAM1' for a camera on a Pi 5 connector, '' when the Id does not tell."""
    return next((name for bus, name in PI5_PORTS.items() if f"/{bus}/" in camera_id), "")


def matches(camera_id: str, pin: str) -> bool:
    """The Id is the pinned one, or contains it as whole path parts ('i2c@80000', 'rp1/i2c@80000')."""
    pin = pin.strip("/")
    return bool(pin) and (camera_id.strip("/") == pin or f"/{pin}/" in f"{camera_id}/")


class PinError(LookupError):
    """The pinned camera is not listed, or the pin fits more than one."""


def pinned_index(cameras: Sequence[dict[str, Any]], pin: str, camera: int) -> int:
    """The position in ``cameras`` (``global_camera_info()``) of the camera pinned by ``pin``."""
    found = [i for i, info in enumerate(cameras) if matches(str(info.get("Id", "")), pin)]
    if len(found) == 1:
        return found[0]
    listed = ", ".join(str(info.get("Id", "?")) for info in cameras) or "none"
    if not found:
        raise PinError(f"camera {camera} is pinned to {pin!r} (camera.ids) and no such camera is connected "
                       f"(libcamera lists: {listed}); check that connector's ribbon cable")
    raise PinError(f"camera {camera}: camera.ids entry {pin!r} fits {len(found)} cameras ({listed}); "
                   f"give a longer part of the Id")
