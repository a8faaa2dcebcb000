"""A view's picture: one camera as it is in its ring, or both side by side.

The dual picture is built straight from the two rings into one preallocated I420 buffer
(camera 0 left, camera 1 right): three slice copies per camera, no colour conversion, no
allocation per frame.  A single-camera view needs no copy at all: the encoder reads the
ring slot in place.  A camera without frames shows "NO SIGNAL" in its place.
"""
from __future__ import annotations

import numpy as np

from common.ipc.frame_reader import Frame
from common.video.i420 import Planes, frame_bytes, planes
from common.video.overlay import Label, drawable, no_signal, scale_for
from streamer.params import Resolution


class Composer:
    """Owns the picture buffer of one (view, resolution)."""

    def __init__(self, cams: list[int], res: Resolution, names: list[str], label: bool) -> None:
        self.cams = cams
        self.res = res
        w, h = res.width, res.height
        width = w * len(cams)
        self.width, self.height = width, h
        self.buffer = np.zeros(frame_bytes(width, h), dtype=np.uint8)
        self.planes: Planes = planes(self.buffer, width, h)
        y, u, v = self.planes
        self.parts: list[Planes] = [
            (y[:, i * w:(i + 1) * w], u[:, i * w // 2:(i + 1) * w // 2], v[:, i * w // 2:(i + 1) * w // 2])
            for i in range(len(cams))]
        self.names = [drawable(name, cam) for name, cam in zip(names, cams, strict=True)]
        # Capture stamps the name on every frame; draw it here only when it does not.
        self.labels = [Label(name, scale_for(h)) for name in self.names] if label else None
        self.margin = 2 * scale_for(h)
        self.showing_no_signal = [False] * len(cams)
        # (incarnation, index) of the frame each part shows: a camera slower than the one
        # pacing the view is not copied again until it has a new frame.
        self.placed: list[tuple[int, int] | None] = [None] * len(cams)

    def put(self, part: int, frame: Frame) -> bool:
        """Copy a camera's frame into its place; False if the writer overwrote it meanwhile."""
        shown = (frame.incarnation, frame.index)
        if self.placed[part] == shown:
            return True
        self.placed[part] = None
        dy, du, dv = self.parts[part]
        dy[...] = frame.y
        du[...] = frame.u
        dv[...] = frame.v
        if not frame.valid():
            return False
        if self.labels is not None:
            self.labels[part].draw(dy, du, dv, self.margin, self.margin)
        self.showing_no_signal[part] = False
        self.placed[part] = shown
        return True

    def put_no_signal(self, part: int) -> None:
        """Draw "NO SIGNAL" once; later calls cost nothing while it stays."""
        if not self.showing_no_signal[part]:
            no_signal(*self.parts[part], self.names[part])
            self.showing_no_signal[part] = True
            self.placed[part] = None

    def single_planes(self, frame: Frame) -> Planes:
        """A single-camera view encodes the ring slot in place (check frame.valid() after)."""
        return frame.y, frame.u, frame.v
