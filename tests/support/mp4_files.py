"""Small, valid H.264 MP4 segments for tests of the recordings browser and API.

They have the recorder's layout and names (:mod:`common.archive.segment_name`) and, by default,
its fragmented MP4 form, so listing, durations, Range requests and playback in a browser
are exercised on the same kind of file.
"""
from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from common.archive import segment_name


def segment_path(root: Path, camera: int, start: datetime) -> Path:
    path = root / segment_name.for_start(camera, start).rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_mp4(path: Path, seconds: float, fps: int = 30, width: int = 320, height: int = 240,
              fragmented: bool = True) -> Path:
    """A moving grey-level picture (so playback visibly advances) encoded with libx264."""
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"} if fragmented else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4", options=options) as container:
        stream = container.add_stream("libx264", rate=fps,
                                      options={"preset": "ultrafast", "g": str(fps)})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(round(seconds * fps)):
            planes = np.full((height * 3 // 2, width), 128, np.uint8)
            x = (i * 8) % (width - 32)
            planes[:height, x:x + 32] = 235  # a bright bar sliding to the right
            planes[:height, :x] = 16 + (i % 64)
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_segment(root: Path, camera: int, start: datetime, seconds: float = 2.0, **kw: object) -> Path:
    return write_mp4(segment_path(root, camera, start), seconds, **kw)  # type: ignore[arg-type]
