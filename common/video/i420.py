"""I420 (YUV 4:2:0 planar) pictures: a frame as its Y, U and V planes.

A tight I420 frame of ``width`` x ``height`` is Y (``height`` rows of ``width``), then U
and V (``height/2`` rows of ``width/2`` each), one after the other: the rings, the
capture sources, the recorder and the streamer's composed views all hold this form.

numpy is loaded only by :func:`arrays`: the recorder hands frames to its encoder as bytes
(:func:`plane_spans`) and runs without numpy, about 10 MB less in each recorder.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import numpy as np

Planes: TypeAlias = tuple["np.ndarray", "np.ndarray", "np.ndarray"]  # Y, U, V
FrameArrays: TypeAlias = tuple["np.ndarray", "np.ndarray", "np.ndarray", "np.ndarray"]  # Y, U, V, whole


def frame_bytes(width: int, height: int) -> int:
    return width * height + 2 * (width // 2) * (height // 2)


def plane_spans(width: int, height: int) -> tuple[tuple[int, int, int], ...]:
    """(offset, width, rows) of the Y, U and V planes in a tight I420 frame."""
    ys, cw, ch = width * height, width // 2, height // 2
    return (0, width, height), (ys, cw, ch), (ys + cw * ch, cw, ch)


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


def arrays(buf: memoryview, width: int, height: int) -> FrameArrays:
    """Y, U, V and the whole frame (``height * 3 / 2`` rows of ``width``) as views of ``buf``."""
    import numpy as np  # here, not at the top: see the module's docstring

    # np.frombuffer holds a buffer export, so a closed map raises instead of crashing.
    whole = np.frombuffer(buf, np.uint8, frame_bytes(width, height)).reshape(height * 3 // 2, width)
    return (*planes(whole, width, height), whole)
