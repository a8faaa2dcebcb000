"""Which sensor mode a Pi camera runs in: the widest field of view that keeps the frame rate.

Picamera2 left to itself scores the sensor's modes against the raw stream size, which is
the main stream's (1280x720): that picks a cropped mode on most sensors (the centre
1920x1080 of a Camera Module 2 or 1, 2028x1080 on the HQ camera, the binned centre
3072x1728 of a Camera Module 3), and so does rpicam-vid.  Here the mode is chosen from the
camera's modes instead (Picamera2's ``sensor_modes``, or ``rpicam-vid --list-cameras``):
among the modes fast enough for ``camera.fps`` and at least as large as the picture, the
one whose picture (the mode's sensor area cut to the picture's aspect ratio) covers the
most of the sensor; the ISP then scales it down.  Ties go to the deeper bit depth, then to
the smaller mode (less to read out and process).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FPS_SLACK = 0.999    # a mode listed at 29.99 fps still counts as 30


@dataclass(frozen=True)
class ModeChoice:
    size: tuple[int, int]          # the sensor's output
    bit_depth: int
    fps: float                     # the mode's fastest rate
    crop: tuple[int, int, int, int]   # the sensor area it reads: x, y, width, height
    field: float                   # share of the sensor's area the picture shows (0..1)

    def sensor_config(self) -> dict[str, Any]:
        """Picamera2's ``sensor=`` argument that selects this mode."""
        return {"output_size": self.size, "bit_depth": self.bit_depth}

    def describe(self) -> str:
        """E.g. '2304x1296 10-bit up to 56.0 fps, reads 4608x2592 at (0, 0): the picture shows 100% of the sensor'."""
        x, y, w, h = self.crop
        return (f"{self.size[0]}x{self.size[1]} {self.bit_depth}-bit up to {self.fps:.1f} fps, reads {w}x{h} at "
                f"({x}, {y}): the picture shows {self.field:.0%} of the sensor")


def sensor_area(modes: list[dict[str, Any]]) -> tuple[int, int]:
    """The whole sensor: the largest area any mode reads."""
    return max((tuple(m["crop_limits"][2:]) for m in modes), key=lambda s: s[0] * s[1])


def _cut(w: float, h: float, picture: tuple[int, int]) -> tuple[float, float]:
    """The largest ``picture``-shaped part of a ``w`` x ``h`` area (what the ISP keeps)."""
    aspect = picture[0] / picture[1]
    return (h * aspect, h) if w / h > aspect else (w, w / aspect)


def _usable(modes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in modes if "size" in m and "crop_limits" in m and "bit_depth" in m]


def field(crop: tuple[int, int, int, int], sensor: tuple[int, int], picture: tuple[int, int]) -> float:
    """The share of the sensor's area a ``picture``-shaped view of ``crop`` shows."""
    used_w, used_h = _cut(crop[2], crop[3], picture)
    return used_w * used_h / (sensor[0] * sensor[1])


def _choice(mode: dict[str, Any], sensor: tuple[int, int], picture: tuple[int, int]) -> ModeChoice:
    x, y, w, h = (int(v) for v in mode["crop_limits"])
    crop = (x, y, w, h)
    return ModeChoice(tuple(mode["size"]), int(mode["bit_depth"]), float(mode.get("fps") or 0.0),
                      crop, field(crop, sensor, picture))


def _big_enough(c: ModeChoice, picture: tuple[int, int]) -> bool:
    """The mode's output, cut to the picture's shape, needs no upscaling."""
    used_w, used_h = _cut(*c.size, picture)
    return used_w >= picture[0] - 1 and used_h >= picture[1] - 1


def choose(modes: list[dict[str, Any]], picture: tuple[int, int], fps: float) -> ModeChoice | None:
    """The mode to configure for ``picture`` at ``fps``; None when the camera lists no raw modes."""
    usable = _usable(modes)
    if not usable:
        return None
    sensor = sensor_area(usable)
    choices = [_choice(m, sensor, picture) for m in usable]
    fast = [c for c in choices if c.fps >= fps * FPS_SLACK]
    if not fast:   # nothing keeps the rate: the fastest there is
        top = max(c.fps for c in choices)
        fast = [c for c in choices if c.fps == top]
    pool = [c for c in fast if _big_enough(c, picture)] or fast
    return max(pool, key=lambda c: (round(c.field, 4), c.bit_depth, -c.size[0] * c.size[1]))


def applied(modes: list[dict[str, Any]], sensor_config: dict[str, Any] | None,
            picture: tuple[int, int]) -> ModeChoice | None:
    """The mode a configured camera reports (``camera_config["sensor"]``), looked up in its modes."""
    if not sensor_config:
        return None
    usable = _usable(modes)
    match = [m for m in usable if tuple(m["size"]) == tuple(sensor_config.get("output_size") or ())
             and m["bit_depth"] == sensor_config.get("bit_depth")]
    return _choice(match[0], sensor_area(usable), picture) if match else None
