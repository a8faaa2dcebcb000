"""The encoder's input frame, allocated once and refilled from each ring frame."""
from __future__ import annotations

import av
import numpy as np


class InputFrame:
    """One reusable input frame.

    A new frame per ring frame (1.4 MB at 720p, 30 times a second) would churn the heap
    and keep the process's RSS high.  The encoders copy their input (libx264 into its own
    picture, the V4L2 encoder into its buffers), so the frame is free again as soon as
    ``encode()`` returns.
    """

    def __init__(self) -> None:
        self.frame: av.VideoFrame | None = None
        self._planes: list[np.ndarray] = []

    def fill(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
        h, w = y.shape
        if self.frame is None or (self.frame.width, self.frame.height) != (w, h):
            self.frame = av.VideoFrame(w, h, "yuv420p")
            self._planes = [np.frombuffer(memoryview(p), np.uint8).reshape(p.height, p.line_size)[:, :p.width]
                            for p in self.frame.planes]
        for dst, src in zip(self._planes, (y, u, v)):
            np.copyto(dst, src)
        return self.frame
