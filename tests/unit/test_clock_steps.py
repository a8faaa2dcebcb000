"""The wall clock steps (NTP at boot, a hand-set clock): a pause still lasts what it was given,
and one step stops being news for health after a day."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from common.archive.index import ArchiveIndex
from common.config import load
from common.state.controls import Controls
from recorder.recording import Recorder
from streamer.archive.health import health
from tests.support.procs import isolated_env


@pytest.fixture
def wall_offset(monkeypatch: pytest.MonkeyPatch):
    """Steps the wall clock (``time.time``) by the seconds given; the boot clock goes on."""
    real = time.time
    shift = [0.0]
    monkeypatch.setattr(time, "time", lambda: real() + shift[0])

    def step(seconds: float) -> None:
        shift[0] += seconds
    return step


@pytest.mark.parametrize("step_s", [-3600.0, 3600.0])
def test_a_clock_step_neither_lengthens_nor_shortens_a_pause(tmp_path: Path, wall_offset, step_s: float) -> None:
    c = Controls(tmp_path / "run")
    now = time.time()
    c.update(recording={0: False}, pause={"by": "boss", "from": "192.168.1.20", "at": now, "until": now + 0.5})
    wall_offset(step_s)
    assert not c.recording_enabled(0)          # a step forward does not end it early
    until = c.get()["paused"]["0"]["until"]
    assert until == pytest.approx(now + step_s + 0.5, abs=0.05)   # its end on the stepped clock, for the page
    time.sleep(0.6)
    assert c.recording_enabled(0)              # nor does a step back make it last longer
    assert c.get()["paused"] == {}


def test_a_pause_from_before_the_last_boot_ends_by_its_wall_time(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    now = time.time()
    paused = {"by": "boss", "from": "x", "at": now - 60, "boot": "another boot"}
    (run / "controls.json").write_text(json.dumps({"recording": {"0": False, "1": False}, "paused": {
        "0": {**paused, "until": now - 1, "until_boot_s": 1e9},      # the other boot's clock says nothing here
        "1": {**paused, "until": now + 600, "until_boot_s": 0.0}}}))
    c = Controls(run)
    assert c.recording_enabled(0) and not c.recording_enabled(1)


HOUR_NS = 3600 * 1_000_000_000


def _clock_warnings(rec: Recorder) -> list[str]:
    rec.publish()
    cfg = rec.cfg
    index = ArchiveIndex(cfg.recordings_root)
    try:
        doc = health(cfg, index, rec.board, rec.controls)
    finally:
        index.close()
    return [r for r in doc["cameras"]["0"]["reasons"] if "clock" in r]


def test_a_clock_step_warns_for_a_day_then_no_more(tmp_path: Path) -> None:
    """The step NTP makes at boot is news for a day; the recorder need not restart to clear it."""
    rec = Recorder(load(isolated_env(tmp_path / "sht")), 0, free_bytes=lambda _: 10**12)
    try:
        wall = time.time_ns()
        rec._clock_stepped(90 * 1_000_000_000, wall - 25 * HOUR_NS, time.monotonic_ns() - 25 * HOUR_NS)
        assert _clock_warnings(rec) == []
        assert rec.status()["clock_steps"] == 1     # still counted since the start, for the record
        rec._clock_stepped(-2 * 1_000_000_000, wall - HOUR_NS, time.monotonic_ns() - HOUR_NS)
        assert _clock_warnings(rec) == ["camera 0: the wall clock stepped 1 time(s) in the last 24 h"]
    finally:
        rec.live.close()
        rec.reader.close()
