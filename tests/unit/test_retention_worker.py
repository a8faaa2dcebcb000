"""Retention runs in a thread of its own: asking for room never waits, and a disk that takes
seconds per deletion costs the recording loop no frame."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from common.config import load
from common.ipc.frame_writer import RingWriter
from common.ipc.names import ring_name
from recorder.recording import Recorder
from recorder.retention.worker import RetentionWorker
from tests.support.disk import MB, SmallDisk, make_file, on_unlink, small_guard
from tests.support.procs import isolated_env, wait_until

OLD = [f"cam0/261101/cam0_20261101_0000{s:02d}.mp4" for s in range(0, 60, 10)]


@pytest.fixture
def held_unlink(monkeypatch):
    """Deleting one of the OLD segments blocks until the test lets it go (a disk that hangs)."""
    release = threading.Event()
    entered = threading.Event()

    def hang(name: str) -> None:
        entered.set()
        release.wait(30)
    on_unlink(monkeypatch, lambda name: name.startswith("cam0_20261101_"), hang)
    yield entered, release
    release.set()


def test_asking_for_room_never_waits_for_the_pass_under_way(tmp_path: Path, held_unlink) -> None:
    entered, release = held_unlink
    root = tmp_path / "rec"
    for n in OLD:
        make_file(root, n, MB)
    worker = RetentionWorker(small_guard(root, SmallDisk(7 * MB)), every_s=60)   # 1 MB free: 2 must go
    worker.start()
    try:
        assert entered.wait(10)                   # the first pass is stuck in a deletion
        ticket = worker.ask_room()                # (returns: it only sets a flag)
        assert not worker.room_made(ticket)
        release.set()
        wait_until(lambda: worker.room_made(ticket), 10)
        assert worker.guard.state.deleted_count >= 2
    finally:
        worker.close()
    assert worker._thread is not None and not worker._thread.is_alive()


@pytest.mark.slow
def test_a_slow_deletion_costs_the_recording_loop_no_frame(tmp_path: Path, monkeypatch) -> None:
    """Each deletion takes 3 s (an SD card in trouble); the ring holds about a second.  The old
    recorder deleted from its frame loop and lost frames; now the loop never waits."""
    env = isolated_env(tmp_path / "sht", ring__slots=32, recorder__check_seconds=0.5, recorder__segment_seconds=2,
                       recorder__keep_continuous_hours=0, recorder__sync_seconds=0)
    cfg = load(env)
    root = cfg.recordings_root
    for n in OLD:
        make_file(root, n, 1000, age_s=86400)
    on_unlink(monkeypatch, lambda name: name.startswith("cam0_20261101_"), lambda name: time.sleep(3.0))
    fps = 30
    writer = RingWriter(ring_name(cfg.ring.prefix, 0, "hd"), 320, 240, cfg.ring.slots, fps, "test", "CAM 0")
    rec = Recorder(cfg, 0, free_bytes=lambda _: 500 * MB)   # under the 1 GB floor: room is made all along
    thread = threading.Thread(target=rec.run, daemon=True)
    written = 0
    try:
        thread.start()
        wait_until(lambda: rec.syncer is not None, 10)
        for written in range(1, 8 * fps + 1):    # 8 s of frames
            y, u, v = writer.begin()
            y[:] = 16 + written % 200
            u[:] = v[:] = 128
            now = time.monotonic_ns()
            writer.commit(now, time.time_ns())
            time.sleep(1 / fps)
        wait_until(lambda: rec.frames_written + rec.frames_dropped >= written, 20)
    finally:
        rec.stop()
        thread.join(15)
        writer.close(unlink=True)
    assert not thread.is_alive()
    assert rec.guard.state.deleted_count >= 2     # retention deleted (slowly) meanwhile
    assert rec.frames_dropped == 0 and rec.frames_written == written
