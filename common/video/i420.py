"""I420 (YUV 4:2:0 planar) pictures: a frame as its Y, U and V planes.

A tight I420 frame of ``width`` x ``height`` is Y (``height`` rows of ``width``), then U
and V (``height/2`` rows of ``width/2`` each), one after the other: the rings, the
capture sources, the recorder and the streamer's composed views all hold this form.
"""
from __future__ import annotations

import numpy as np

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # Y, U, V


def frame_bytes(width: int, height: int) -> int:
    return width * height + 2 * (width // 2) * (height // 2)


def planes(frame: np.ndarray, width: int, height: int) -> Planes:
    """Y, U, V views (no copy) of a tight I420 frame held in a contiguous array of any shape."""
    if not frame.flags.c_contiguous:
        raise ValueError("an I420 frame must be one contiguous buffer")  # a reshape would copy
    flat = frame.reshape(-1)
    ys, cs = width * height, (width // 2) * (height // 2)
    if flat.size < ys + 2 * cs:
        raise ValueError(f"{flat.size} bytes hold no {width}x{height} I420 frame")
    return (flat[:ys].reshape(height, width),
            flat[ys:ys + cs].reshape(height // 2, width // 2),
            flat[ys + cs:ys + 2 * cs].reshape(height // 2, width // 2))
