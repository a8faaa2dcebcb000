"""The colour convention of every frame in the rings: full-range BT.601 Y'CbCr (sYCC).

That is what a JPEG decoder assumes, so live view needs no conversion, and what the
recordings declare in their H.264 VUI.  A source whose pixels are limited range
(16-235 luma, 16-240 chroma) converts them with :func:`expand_range` on the way in.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# H.264 VUI codes (ITU-T H.273; the same numbers as FFmpeg's AVColor* enums).
VUI_PRIMARIES = 1        # BT.709 primaries (sYCC's)
VUI_TRANSFER = 13        # IEC 61966-2-1 (sRGB)
VUI_MATRIX = 6           # BT.601 (SMPTE 170M)
VUI_FULL_RANGE = 2       # FFmpeg's AVCOL_RANGE_JPEG: the video_full_range_flag is set
# What ffprobe prints for these codes.
PROBE_NAMES = {"color_primaries": "bt709", "color_transfer": "iec61966-2-1", "color_space": "smpte170m",
               "color_range": "pc"}


@functools.cache
def range_tables() -> tuple[np.ndarray, np.ndarray]:
    """Look-up tables: luma 16..235 -> 0..255; chroma 16..240 around 128 -> 0..255 around 128."""
    import numpy as np  # here: the recorder reads the VUI codes above and runs without numpy

    x = np.arange(256, dtype=np.float64)
    luma = np.clip(np.rint((x - 16) * 255.0 / (235 - 16)), 0, 255).astype(np.uint8)
    chroma = np.clip(np.rint((x - 128.0) * 255.0 / 224.0 + 128.0), 0, 255).astype(np.uint8)
    return luma, chroma


def expand_range(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    """Limited-range planes to full range, in place (one table look-up per byte)."""
    luma, chroma = range_tables()
    luma.take(y, out=y)
    chroma.take(u, out=u)
    chroma.take(v, out=v)
