"""The encoder's input frame: a ring frame's bytes copied in, whatever the encoder's row stride."""
from __future__ import annotations

import numpy as np
import pytest

from common.ipc.frame_reader import RingReader
from common.ipc.frame_writer import RingWriter
from recorder.encode.frame import InputFrame


def _picture(w: int, h: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h * 3 // 2, w), np.uint8)


# 320 wide: rows as wide as the planes; 100 wide: libav pads each row (stride 112, chroma 64).
@pytest.mark.parametrize("w, h", [(320, 240), (100, 60)])
def test_a_ring_frame_is_copied_in_exactly(ring_prefix: str, w: int, h: int) -> None:
    writer = RingWriter(f"/{ring_prefix}in{w}", w, h, 4, 30, "test", "T")
    reader = RingReader(f"/{ring_prefix}in{w}")
    picture = InputFrame()
    try:
        for seed in (1, 2):   # the second fill reuses the frame: every byte is written again
            data = _picture(w, h, seed)
            y, u, v = writer.begin()
            y[:], u[:], v[:] = data[:h], data[h:h * 5 // 4].reshape(h // 2, w // 2), \
                data[h * 5 // 4:].reshape(h // 2, w // 2)
            writer.commit(seed, seed)
            frame = reader.next_frame(2.0, newest=True)
            assert frame is not None and frame.views is None   # no numpy planes were made
            got = picture.fill(frame)
            assert frame.views is None
            assert got.planes[0].line_size == (w if w == 320 else 112)
            assert np.array_equal(got.to_ndarray(), data)
            assert np.array_equal(picture.fill_planes(frame.y, frame.u, frame.v).to_ndarray(), data)
    finally:
        reader.close()
        writer.close()
