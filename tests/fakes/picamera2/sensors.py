"""The Raspberry Pi camera sensors the fake can stand for: their sensor modes, I2C address,
and whether the lens focuses, with the published output each table comes from.

A mode is what ``Picamera2.sensor_modes`` lists: raw format, bit depth, output size, the
fastest rate and ``crop_limits``, the sensor area it reads (x, y, width, height), so a
mode reading less than the whole array crops the field of view.

Sources (``rpicam-hello --list-cameras`` / ``libcamera-hello --list-cameras`` output):

- imx219 (Camera Module 2): raspberrypi/linux issue 5438 (2023-04, the listing after the
  update: 640x480 at 103.33 fps), formats SRGGB10_CSI2P and SRGGB8 with the same modes.
- imx477 (HQ camera): raspberrypi/picamera2 issue 301 (SRGGB10_CSI2P 1332x990, SRGGB12_CSI2P
  2028x1080, 2028x1520, 4056x3040).
- imx708 (Camera Module 3, also _wide, _noir, _wide_noir): the modes the fake listed before
  (1536x864 cropped at 120.13 fps, 2304x1296 and 4608x2592 full), as described in
  raspberrypi/rpicam-apps issues 570 (Module 3 Wide: 1536x864 is cropped, 2304x1296 is the
  full view at 56 fps, 10-bit only) and 630 (``--mode 2304:1296:10:P`` for the full view).
  Autofocus: the IMX708 alone has a lens driver (dw9807); libcamera's tuning files for the
  others (libcamera src/ipa/rpi/pisp/data/imx219.json, imx477.json, ov5647.json) have no
  ``rpi.af`` section, imx708*.json have one.
- ov5647 (Camera Module 1): raspberrypi/rpicam-apps issue 427 (SGBRG10_CSI2P).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Mode = tuple[str, int, tuple[int, int], float, tuple[int, int, int, int]]   # format, bits, size, fps, crop


@dataclass(frozen=True)
class Sensor:
    address: str                  # the I2C address in the camera's Id, e.g. imx708@1a
    modes: tuple[Mode, ...]
    autofocus: bool = False

    def sensor_modes(self) -> list[dict[str, Any]]:
        return [{"format": fmt, "unpacked": fmt.split("_")[0], "bit_depth": bits, "size": size, "fps": fps,
                 "crop_limits": crop, "exposure_limits": (9, None, None)} for fmt, bits, size, fps, crop in self.modes]

    @property
    def native(self) -> Mode:
        """The format picamera2 uses when told none: the largest mode, at its deepest bit depth."""
        return max(self.modes, key=lambda m: (m[2][0] * m[2][1], m[1]))


def _imx219(fmt: str, bits: int) -> tuple[Mode, ...]:
    return ((fmt, bits, (640, 480), 103.33, (1000, 752, 1280, 960)),
            (fmt, bits, (1640, 1232), 41.85, (0, 0, 3280, 2464)),
            (fmt, bits, (1920, 1080), 47.57, (680, 692, 1920, 1080)),
            (fmt, bits, (3280, 2464), 21.19, (0, 0, 3280, 2464)))


_IMX708 = Sensor("imx708@1a", (("SRGGB10_CSI2P", 10, (1536, 864), 120.13, (768, 432, 3072, 1728)),
                               ("SRGGB10_CSI2P", 10, (2304, 1296), 56.03, (0, 0, 4608, 2592)),
                               ("SRGGB10_CSI2P", 10, (4608, 2592), 14.35, (0, 0, 4608, 2592))), autofocus=True)

SENSORS: dict[str, Sensor] = {
    "imx708": _IMX708, "imx708_wide": _IMX708, "imx708_noir": _IMX708, "imx708_wide_noir": _IMX708,
    "imx219": Sensor("imx219@10", _imx219("SRGGB10_CSI2P", 10) + _imx219("SRGGB8", 8)),
    "imx477": Sensor("imx477@1a", (("SRGGB10_CSI2P", 10, (1332, 990), 120.05, (696, 528, 2664, 1980)),
                                   ("SRGGB12_CSI2P", 12, (2028, 1080), 50.03, (0, 440, 4056, 2160)),
                                   ("SRGGB12_CSI2P", 12, (2028, 1520), 40.01, (0, 0, 4056, 3040)),
                                   ("SRGGB12_CSI2P", 12, (4056, 3040), 10.00, (0, 0, 4056, 3040)))),
    "ov5647": Sensor("ov5647@36", (("SGBRG10_CSI2P", 10, (640, 480), 58.92, (16, 0, 2560, 1920)),
                                   ("SGBRG10_CSI2P", 10, (1296, 972), 43.25, (0, 0, 2592, 1944)),
                                   ("SGBRG10_CSI2P", 10, (1920, 1080), 30.62, (348, 434, 1928, 1080)),
                                   ("SGBRG10_CSI2P", 10, (2592, 1944), 15.63, (0, 0, 2592, 1944)))),
}

# The Pi 5's camera connectors and the I2C bus of each in a camera's Id (the RP1's i2c@88000
# serves CAM/DISP 0, i2c@80000 CAM/DISP 1, as in published listings of a camera on each).
PORT_BUS = {0: "i2c@88000", 1: "i2c@80000"}


def camera_id(model: str, port: int) -> str:
    return f"/base/axi/pcie@120000/rp1/{PORT_BUS[port]}/{SENSORS[model].address}"


def picamera2_choice(modes: list[dict[str, Any]], output_size: tuple[int, int], bit_depth: int) -> dict[str, Any]:
    """The mode picamera2 (0.3.36 to 0.3.38, ``_make_libcamera_config``) configures for a
    wanted raw output size and bit depth, with the weights it takes from libcamera: a size
    short of the wanted one costs twice the pixels missing, a larger one a quarter of the
    excess; aspect ratio 1500 per unit of difference (scored the same way), bit depth 500
    per bit."""
    def cost(want: float, have: float) -> float:
        return (want - have) * 2 if want >= have else (have - want) / 4

    def score(mode: dict[str, Any]) -> float:
        (w, h), (mw, mh) = output_size, mode["size"]
        return (cost(w, mw) + cost(h, mh) + 1500 * cost(w / h, mw / mh)
                + 500 * abs(bit_depth - mode["bit_depth"]))
    return min(modes, key=score)
