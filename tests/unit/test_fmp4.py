"""The hand-written fragmented MP4: a decoder reads the recorder's packets back from it."""
from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import av
import numpy as np

from recorder.encode.frame import InputFrame
from recorder.encode.settings import EncoderSettings
from streamer.live.h264 import fmp4
from tests.support.encoding import OneFile

W, H, FPS = 320, 240, 30


def _encode(tmp: Path, count: int) -> tuple[bytes, list[tuple[bytes, bool, int]]]:
    settings = EncoderSettings(codec="libx264", width=W, height=H, fps=FPS, gop=10)
    writer = OneFile(tmp / "seg.mp4", settings, 0, "", keep_packets=True)
    picture = InputFrame()
    rng = np.random.default_rng(1)
    y = rng.integers(0, 255, (H, W), np.uint8)
    for i in range(count):
        writer.add(picture.fill_planes(np.roll(y, 4 * i, axis=1), np.full((H // 2, W // 2), 90, np.uint8),
                                np.full((H // 2, W // 2), 160, np.uint8)), i * 33_333_333)
    extradata = writer.extradata
    writer.close()
    return extradata, writer.packets.got


def test_nal_units_split_on_either_start_code() -> None:
    assert fmp4.nal_units(b"\x00\x00\x00\x01\x67ab\x00\x00\x01\x68c\x00\x00\x00\x01\x65def") == \
        [b"\x67ab", b"\x68c", b"\x65def"]
    assert fmp4.sample(b"\x00\x00\x01\x09\xf0\x00\x00\x01\x65xy") == b"\x00\x00\x00\x03\x65xy"


def test_decoders_read_init_and_fragments(tmp_path: Path) -> None:
    extradata, packets = _encode(tmp_path, 25)
    sps, _ = fmp4.parameter_sets(extradata)
    assert fmp4.codec_string(sps[0]).startswith("avc1.")
    stream = bytearray(fmp4.init_segment(extradata, W, H))
    period = fmp4.TIMESCALE // FPS
    for n, (data, key, mono) in enumerate(packets):
        stream += fmp4.fragment(n + 1, 90_000 + mono * fmp4.TIMESCALE // 1_000_000_000, period, fmp4.sample(data), key)
    path = tmp_path / "live.mp4"
    path.write_bytes(bytes(stream))
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = list(container.decode(video))
    assert len(frames) == 25
    assert (frames[0].width, frames[0].height) == (W, H)
    times = [float(f.pts * f.time_base) for f in frames]
    assert abs(times[0] - 1.0) < 1e-3 and all(abs(b - a - 1 / FPS) < 1e-3 for a, b in itertools.pairwise(times))
    # ffprobe agrees on the whole file: no errors.
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stderr == "" and out.stdout.strip() == f"h264,{W},{H}"
