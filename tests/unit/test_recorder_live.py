"""The recorder's packets for low-data live view are the recording's own bitstream, and the
files are untouched by them."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from recorder.encode.frame import InputFrame
from recorder.encode.settings import EncoderSettings
from tests.support.encoding import OneFile

W, H, FPS = 320, 240, 30


def _frames(count: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    base = rng.integers(0, 255, (H, W), np.uint8)
    out = []
    for i in range(count):
        y = np.roll(base, 3 * i, axis=1)
        out.append((y, np.full((H // 2, W // 2), 100 + i % 50, np.uint8), np.full((H // 2, W // 2), 128, np.uint8)))
    return out


def _record(path: Path, frames, publish: bool) -> list[tuple[bytes, bool, int]]:
    settings = EncoderSettings(codec="libx264", width=W, height=H, fps=FPS, gop=10)
    writer = OneFile(path, settings, 10_000_000, "camera=0 first_index=0 incarnation=1", keep_packets=publish)
    picture = InputFrame()
    for i, (y, u, v) in enumerate(frames):
        writer.add(picture.fill_planes(y, u, v), 10_000_000 + i * 33_333_333)
    extradata = writer.extradata
    writer.close()
    return [(extradata, False, -1), *writer.packets.got] if publish else []


def _avcc_to_annexb(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i + 4 <= len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        out += b"\x00\x00\x00\x01" + data[i + 4:i + 4 + n]
        i += 4 + n
    return bytes(out)


def _nals(annexb: bytes) -> list[bytes]:
    """NAL units of an Annex B stream, whatever their start-code lengths."""
    parts = annexb.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    return [p for p in parts if p]


def test_files_are_byte_for_byte_the_same_with_live_packets_and_carry_the_same_bitstream(tmp_path: Path) -> None:
    frames = _frames(45)
    _record(tmp_path / "plain.mp4", frames, publish=False)
    published = _record(tmp_path / "live.mp4", frames, publish=True)
    assert (tmp_path / "plain.mp4").read_bytes() == (tmp_path / "live.mp4").read_bytes()
    extradata, packets = published[0][0], published[1:]
    assert len(packets) == 45
    assert [key for _, key, _ in packets] == [i % 10 == 0 for i in range(45)]
    # Capture times come back from the 90 kHz pts: exact to within one tick.
    assert all(0 <= 10_000_000 + i * 33_333_333 - mono < 11_112 for i, (_, _, mono) in enumerate(packets))
    with av.open(str(tmp_path / "live.mp4")) as container:
        stream = container.streams.video[0]
        # The file's parameter sets are the ones published for late viewers.
        in_file_sets = _nals(_avcc_avc_config(stream.codec_context.extradata))
        assert _nals(extradata) and set(_nals(extradata)) <= set(in_file_sets)
        in_file = [bytes(p) for p in container.demux(stream) if p.size]
    assert len(in_file) == 45
    # Each access unit in the file is the published one (the muxer only changes start codes to lengths).
    for (data, _, _), stored in zip(packets, in_file):
        assert _nals(data) == _nals(_avcc_to_annexb(stored))


def _avcc_avc_config(avcc: bytes) -> bytes:
    """SPS and PPS of an avcC record, as Annex B."""
    out, i = bytearray(), 5
    for mask in (0x1F, 0xFF):           # SPS count (low 5 bits), then PPS count
        count, i = avcc[i] & mask, i + 1
        for _ in range(count):
            n = int.from_bytes(avcc[i:i + 2], "big")
            out += b"\x00\x00\x00\x01" + avcc[i + 2:i + 2 + n]
            i += 2 + n
    return bytes(out)
