"""The recorder's packets for low-data live view: the recording's own bitstream, files
untouched by it, and encoding while paused only for as long as someone watches."""
from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest

from common.ipc.names import packet_ring_name
from common.ipc.packet_reader import PacketReader
from common.state.controls import Controls
from recorder.encode.frame import InputFrame
from recorder.encode.settings import EncoderSettings
from tests.support.encoding import OneFile
from tests.support.procs import Procs, isolated_env, wait_until
from tests.support.recorder_check import status

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
        writer.add(picture.fill(y, u, v), 10_000_000 + i * 33_333_333)
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


@pytest.fixture
def paused_system(tmp_path: Path):
    env = isolated_env(tmp_path / "sht", recorder__segment_seconds=30, ring__slots=32)
    procs = Procs(env, tmp_path / "logs")
    Controls(Path(env["SHT__PATHS__RUN_DIR"])).update(recording={0: False})
    yield env, procs
    procs.close()


def test_paused_recorder_encodes_only_while_a_viewer_asks(paused_system) -> None:
    env, procs = paused_system
    procs.capture(0)
    procs.start("rec0", "-m", "recorder", "--camera", "0")
    wait_until(lambda: status(env).get("state") == "paused", timeout=30)
    reader = PacketReader(packet_ring_name(env["SHT__RING__PREFIX"], 0), stale_seconds=2.0)
    try:
        wait_until(reader.alive, 10)
        assert reader.next_packet(1.0) is None   # paused, nobody watching: nothing encoded
        reader.seek(0)                           # from the first packet it makes
        reader.demand(30)
        first = reader.next_packet(5.0)
        assert first is not None and first.keyframe and len(first.data) > 100
        assert reader.extradata().startswith((b"\x00\x00\x00\x01\x67", b"\x00\x00\x01\x67"))
        got = [reader.next_packet(1.0) for _ in range(30)]
        assert all(p is not None for p in got)
        assert [p.index for p in got] == list(range(first.index + 1, first.index + 31))
        age_ms = (time.monotonic_ns() - got[-1].mono_ns) / 1e6
        assert 0 <= age_ms < 1000
        reader.demand(0)   # the viewer left: encoding stops
        time.sleep(0.5)
        while reader.next_packet(0.05) is not None:
            pass
        assert reader.next_packet(1.0) is None
        assert status(env)["state"] == "paused" and status(env)["segments_written"] == 0
    finally:
        reader.close()
