"""The picture of an event: the sd frame at its peak, half size, as one JPEG.

The half-size planes are kept at each new peak (a strided copy of a quarter of the
pixels); the JPEG is encoded once, when the event closes.
"""
from __future__ import annotations

import numpy as np
import simplejpeg

QUALITY = 75
Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


def half_planes(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Planes:
    """Private copies of every other pixel of each plane (I420 stays I420)."""
    return (np.ascontiguousarray(y[::2, ::2]), np.ascontiguousarray(u[::2, ::2]),
            np.ascontiguousarray(v[::2, ::2]))


def thumbnail_jpeg(planes: Planes) -> bytes:
    jpeg: bytes = simplejpeg.encode_jpeg_yuv_planes(*planes, quality=QUALITY)
    return jpeg
