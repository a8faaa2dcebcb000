"""A paused recorder encodes for low-data live view only for as long as someone watches."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from common.ipc.names import packet_ring_name
from common.ipc.packet_reader import PacketReader
from common.state.controls import Controls
from tests.support.procs import Procs, isolated_env, wait_until
from tests.support.recorder_check import status


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
