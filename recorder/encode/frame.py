"""The encoder's input frame, allocated once and refilled from each ring frame."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import av

from common.video.i420 import plane_spans

if TYPE_CHECKING:
    import numpy as np

    from common.ipc.frame_reader import Frame


class InputFrame:
    """One reusable input frame.

    A new frame per ring frame (1.4 MB at 720p, 30 times a second) would churn the heap
    and keep the process's RSS high.  The encoders copy their input (libx264 into its own
    picture, the V4L2 encoder into its buffers), so the frame is free again as soon as
    ``encode()`` returns.  The copy in is of bytes, not numpy arrays: the recorder runs
    without numpy (:mod:`common.video.i420`).
    """

    def __init__(self) -> None:
        self.frame: av.VideoFrame | None = None
        self._planes: list[memoryview] = []

    def fill(self, frame: Frame) -> av.VideoFrame:
        """The ring frame's picture, copied in."""
        buf = frame.buf
        return self._copy([buf[at:at + w * rows] for at, w, rows in plane_spans(frame.width, frame.height)],
                          frame.width, frame.height)

    def fill_planes(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
        """A picture held as three C-contiguous planes, copied in."""
        h, w = y.shape
        return self._copy([memoryview(p.data).cast("B") for p in (y, u, v)], w, h)

    def _copy(self, planes: Sequence[memoryview], width: int, height: int) -> av.VideoFrame:
        if self.frame is None or (self.frame.width, self.frame.height) != (width, height):
            self.frame = av.VideoFrame(width, height, "yuv420p")
            self._planes = [memoryview(p) for p in self.frame.planes]
        for dst, plane, src, (_, w, rows) in zip(self._planes, self.frame.planes, planes,
                                                 plane_spans(width, height)):
            stride = plane.line_size
            if stride == w:   # the usual case (widths that are multiples of 64): one copy
                dst[:w * rows] = src[:w * rows]
                continue
            for row in range(rows):
                dst[row * stride:row * stride + w] = src[row * w:(row + 1) * w]
        return self.frame
