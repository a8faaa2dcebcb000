"""The cameras as rpicam-vid sees them (``rpicam-vid --list-cameras``): the number of a camera
pinned by ``camera.ids``, and the sensor mode of the whole field of view.

rpicam-apps numbers cameras as Picamera2 does (by Id, highest first: see
:mod:`common.camera.ports`), and left to itself also picks a cropped mode for a 1280x720
output; ``--mode W:H:bits:P`` selects the mode chosen by :mod:`common.camera.sensor_mode`.
The listing looks like::

    0 : imx708 [4608x2592 10-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a)
        Modes: 'SRGGB10_CSI2P' : 1536x864 [120.13 fps - (768, 432)/3072x1728 crop]
                                 2304x1296 [56.03 fps - (0, 0)/4608x2592 crop]
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

from common.camera import sensor_mode
from common.camera.ports import PinError, pinned_index

_CAMERA = re.compile(r"^\s*(\d+)\s*:\s*(\S+)\s.*\((/[^)]*)\)\s*$")
_FORMAT = re.compile(r"'([A-Za-z0-9_]+)'\s*:")
_MODE = re.compile(r"(\d+)x(\d+)\s*\[([\d.]+) fps - \((\d+), (\d+)\)/(\d+)x(\d+) crop\]")
LIST_TIMEOUT_S = 30.0


@dataclass
class Listed:
    number: int
    model: str
    id: str
    modes: list[dict[str, Any]] = field(default_factory=list)   # as Picamera2's sensor_modes


def parse(text: str) -> list[Listed]:
    cameras: list[Listed] = []
    fmt = ""
    for line in text.splitlines():
        head = _CAMERA.match(line)
        if head:
            cameras.append(Listed(int(head.group(1)), head.group(2), head.group(3)))
            fmt = ""
            continue
        named = _FORMAT.search(line)
        if named:
            fmt = named.group(1)
        mode = _MODE.search(line)
        if mode and cameras and fmt:
            w, h, fps, x, y, cw, ch = mode.groups()
            bits = int(re.sub(r"\D", "", fmt.split("_")[0]) or 0)
            cameras[-1].modes.append({"format": fmt, "bit_depth": bits, "size": (int(w), int(h)), "fps": float(fps),
                                      "crop_limits": (int(x), int(y), int(cw), int(ch)), "packed": "CSI2P" in fmt})
    return cameras


def list_cameras(exe: str) -> tuple[list[Listed], str]:
    """The cameras rpicam-vid lists, and '' or why the listing could not be had."""
    try:
        out = subprocess.run([exe, "--list-cameras"], capture_output=True, text=True, timeout=LIST_TIMEOUT_S,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return [], f"{exe} --list-cameras: {exc}"
    return parse(out.stdout), ""


def camera_args(cameras: list[Listed], camera: int, pin: str, picture: tuple[int, int], fps: float) -> list[str]:
    """``--camera N`` (the pinned camera's number when pinned) and ``--mode`` for the whole
    field of view when the camera lists its modes.  Raises PinError for a pinned camera that
    is not listed."""
    number = camera
    if pin:
        number = cameras[pinned_index([{"Id": c.id} for c in cameras], pin, camera)].number
    args = ["--camera", str(number)]
    listed = next((c for c in cameras if c.number == number), None)
    choice = sensor_mode.choose(listed.modes, picture, fps) if listed else None
    if choice is not None and listed is not None:
        packed = next((m["packed"] for m in listed.modes
                       if m["size"] == choice.size and m["bit_depth"] == choice.bit_depth), True)
        args += ["--mode", f"{choice.size[0]}:{choice.size[1]}:{choice.bit_depth}:{'P' if packed else 'U'}"]
    return args


__all__ = ["Listed", "PinError", "camera_args", "list_cameras", "parse"]
