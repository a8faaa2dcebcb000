"""rpicam-vid's chunks (H.264 elementary streams with inline headers) as the Pi engine finds them:
whole, cut by a power cut mid-picture, or cut right after the parameter sets of the first picture."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from common.config import load
from recorder.rpicam import RpicamRecorder, _count_frames, has_picture, remux
from tests.support.procs import isolated_env
from tests.support.recorder_check import finished, read_segment

FPS = 30


def elementary_stream(frames: int) -> bytes:
    """What rpicam-vid writes: Annex B, SPS and PPS before every keyframe (--inline)."""
    ctx = av.CodecContext.create("libx264", "w")
    assert isinstance(ctx, av.video.codeccontext.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = 64, 48, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, FPS), Fraction(FPS, 1)
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": "repeat-headers=1"}
    out = bytearray()
    for i in range(frames):
        picture = np.full((72, 64), (i * 8) % 256, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = i
        out += b"".join(bytes(p) for p in ctx.encode(frame))
    out += b"".join(bytes(p) for p in ctx.encode(None))
    return bytes(out)


def first_slice(stream: bytes) -> int:
    """Where the first picture's slice starts (its start code)."""
    at = stream.find(b"\x00\x00\x01")
    while stream[at + 3] & 0x1F not in (1, 5):
        at = stream.find(b"\x00\x00\x01", at + 3)
    return at - 1 if stream[at - 1] == 0 else at   # a 4-byte start code


def test_a_chunk_counts_its_pictures_not_its_parameter_sets(tmp_path: Path) -> None:
    stream = elementary_stream(10)
    headers = stream[:first_slice(stream)]
    assert headers and not has_picture(headers) and has_picture(stream)
    whole, torn, tail = tmp_path / "whole.h264", tmp_path / "torn.h264", tmp_path / "tail.h264"
    whole.write_bytes(stream)
    torn.write_bytes(headers)
    tail.write_bytes(stream + headers)          # cut after the next keyframe's headers
    assert (_count_frames(whole), _count_frames(torn), _count_frames(tail)) == (10, 0, 10)
    # The remux copies pictures only: the torn tail adds no empty sample.
    assert remux(tail, tmp_path / "tail.mp4", FPS, "test") == 10
    with av.open(str(tmp_path / "tail.mp4")) as c:
        assert sum(1 for p in c.demux(c.streams.video[0]) if p.size) == 10


def test_a_chunk_with_no_picture_is_removed_and_makes_no_segment(tmp_path: Path) -> None:
    rec = RpicamRecorder(load(isolated_env(tmp_path / "sht")), 0)
    rec.work.mkdir(parents=True)
    stream = elementary_stream(10)
    (rec.work / "r1_00000.h264").write_bytes(stream)
    (rec.work / "r1_00001.h264").write_bytes(stream[:first_slice(stream)])
    rec._collect(complete_only=False)
    assert list(rec.work.iterdir()) == []
    files = finished(rec.root)
    assert len(files) == 1 and read_segment(files[0]).frames == 10
    assert rec.segments_written == 1 and rec.last_error == ""
