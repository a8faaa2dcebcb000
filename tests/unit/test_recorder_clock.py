"""The wall clock steps while a segment is written (NTP at boot, forward or back, by seconds
or days): the segment ends at the step, the next is named by the new time, no file is
overwritten, no frame is lost, the step is logged and in the status, and retention still
takes files in the order they were written.

The recorder's wall clock is the capture's wall stamp on each frame, so the test plays the
capture process: it writes frames into the ring with a wall clock of its own.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from common.config import load
from common.ipc.frame_writer import RingWriter
from common.ipc.names import ring_name
from recorder.recording import Recorder
from tests.support.archive import oldest_first
from tests.support.procs import isolated_env, wait_until
from tests.support.recorder_check import read_segment

FPS = 30
PHASE_FRAMES = 45          # 1.5 s between steps
DAY = 86400.0


@pytest.mark.slow
def test_segments_end_at_every_clock_step_and_keep_every_frame(tmp_path: Path, caplog) -> None:
    env = isolated_env(tmp_path / "sht", recorder__segment_seconds=30, ring__slots=64, recorder__sync_seconds=0)
    cfg = load(env)
    root = cfg.recordings_root
    writer = RingWriter(ring_name(cfg.ring.prefix, 0, "hd"), 320, 240, cfg.ring.slots, FPS, "test", "CAM 0")
    rec = Recorder(cfg, 0)
    thread = threading.Thread(target=rec.run, daemon=True)
    start = datetime(2026, 11, 25, 12, 0, 5).timestamp()       # 5 s into a 30 s segment
    # wall offset of each phase: steps of +5 s, back to the first segment's start time (a name
    # collision), back 2 days, forward 3 days
    steps = [0.0, 5.0, -8.0, -2 * DAY, 3 * DAY]
    firsts: list[int] = []
    try:
        thread.start()
        wait_until(lambda: rec.syncer is not None, 10)
        mono0 = time.monotonic_ns()
        offset = start - mono0 / 1e9
        index = 0
        for step in steps:
            offset += step
            firsts.append(index)
            for _ in range(PHASE_FRAMES):
                y, u, v = writer.begin()
                y[:] = 16 + index % 200
                u[:] = 128
                v[:] = 128
                now = time.monotonic_ns()
                writer.commit(now, now + int(offset * 1e9))
                index += 1
                time.sleep(1 / FPS)
        wait_until(lambda: rec.frames_written + rec.frames_dropped >= index, 20)
    finally:
        rec.stop()
        thread.join(15)
        writer.close(unlink=True)
    assert not thread.is_alive()

    files = [root / r.file for r in oldest_first(root)]           # retention's order: oldest first
    segs = [read_segment(p) for p in files]
    assert len(segs) == len(steps), [p.name for p in files]
    # written in this order, each starting with the first frame after its step
    assert [s.first_index - segs[0].first_index for s in segs] == firsts, [p.name for p in files]
    assert rec.frames_dropped == 0
    assert sum(s.frames for s in segs) == index == rec.frames_written
    assert all(s.decoded == s.frames for s in segs)
    names = [p.name for p in files]
    assert len(set(names)) == len(names)
    assert names[0] == "cam0_20261125_120005.mp4"
    assert names[1].startswith("cam0_20261125_12001")        # 1.5 s + 5 s later
    assert names[2] != names[0] and names[2].startswith("cam0_20261125_12000")   # not overwritten
    assert files[3].parent.name == "261123" and files[4].parent.name == "261126"
    st = rec.status()
    assert st["clock_steps"] == len(steps) - 1 and st["last_clock_step"]["step_s"] == 3 * DAY
    assert sum("wall clock stepped" in r.getMessage() for r in caplog.records) == len(steps) - 1
    assert rec.gaplog.path.exists() and "clock step" in rec.gaplog.path.read_text()
    assert np.all(np.diff([p.stat().st_mtime for p in files]) > 0)
