"""A recorder adds its rows to the archive index a few at a time: the rows that wait are listed
at once from memory, a clean stop adds them, and a kill -9 loses none of the segments."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from common.archive import pending
from common.archive.index import DB_NAME, FIRST_KEY, ArchiveIndex, Recording
from recorder.segments.indexer import Indexer
from tests.support.procs import wait_until
from tests.unit.test_archive_index import make, rel

DAY = datetime(2026, 11, 26)
REPO = Path(__file__).resolve().parents[2]


def _stored(root: Path) -> list[str]:
    """The files the index's database itself has rows for."""
    if not (root / DB_NAME).exists():
        return []
    conn = sqlite3.connect(root / DB_NAME)
    try:
        return [f for (f,) in conn.execute("SELECT file FROM recordings ORDER BY start")]
    finally:
        conn.close()


def _finish(indexer: Indexer, root: Path, path: Path, start: datetime) -> None:
    indexer.finished(path, 0, start.timestamp() + 0.25, 30.0, path.stat().st_size)


def test_rows_wait_to_be_added_together_and_are_listed_meanwhile(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    first = make(root, 0, DAY.replace(hour=9))
    ArchiveIndex(root).refresh()                             # an index with one row
    indexer = Indexer(root, "cam0", batch_s=3600, batch_rows=3)
    reader = ArchiveIndex(root)
    starts = [DAY.replace(hour=10) + timedelta(seconds=30 * i) for i in range(3)]
    paths = [make(root, 0, s, 100 + i) for i, s in enumerate(starts[:2])]
    try:
        for path, start in zip(paths[:2], starts[:2], strict=True):
            _finish(indexer, root, path, start)
        wait_until(lambda: len(reader.day(0, "261126")) == 3, 5.0, interval=0.02)
        reader.refresh()                                     # a reader's refresh leaves them to the recorder
        assert _stored(root) == [rel(root, first)]           # not in the database yet
        listed = reader.day(0, "261126")
        assert [r.file for r in listed] == [rel(root, p) for p in [first, *paths[:2]]]
        assert listed[1].duration == 30.0 and listed[1].start == starts[0].timestamp() + 0.25
        assert reader.days(0) == [("261126", 3, 10 + 100 + 101)]
        assert [r.file for r in reader.starting(0, starts[1].timestamp())] == [rel(root, paths[1])]
        assert reader.newest_end() == starts[1].timestamp() + 30.25
        # Retention counts them: the newest 45 s are the two waiting rows; the bytes are all three.
        [window] = reader.windows(45.0, 30.0)
        assert window.recorded_s == 60.0 and window.since_ns == round(paths[0].stat().st_mtime * 1e9)
        assert reader.total_bytes() == 10 + 100 + 101 and reader.continuous(0, 30.0) >= 60.0
        paths.append(make(root, 0, starts[2], 102))
        _finish(indexer, root, paths[2], starts[2])           # the third: the batch is full
        wait_until(lambda: len(_stored(root)) == 4, 5.0, interval=0.02)
        assert [r.file for r in reader.day(0, "261126")] == [rel(root, p) for p in [first, *paths]]   # once each
        wait_until(lambda: not pending.read(root), 5.0, interval=0.02)
    finally:
        indexer.close(timeout=10)


def test_a_clean_stop_adds_the_rows_that_wait(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    indexer = Indexer(root, "cam0", batch_s=3600, batch_rows=100)
    start = DAY.replace(hour=10)
    path = make(root, 0, start)
    _finish(indexer, root, path, start)
    wait_until(lambda: pending.read(root) != [], 5.0, interval=0.02)
    assert _stored(root) == []
    indexer.close(timeout=10)
    assert _stored(root) == [rel(root, path)] and pending.read(root) == []
    assert not pending.pending_path(root, "cam0").exists()


_WRITER = """
import sys, time
from pathlib import Path
from recorder.segments.indexer import Indexer
root, path, start = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
indexer = Indexer(root, "cam0", batch_s=3600, batch_rows=100)
indexer.finished(path, 0, start, 30.0, path.stat().st_size)
time.sleep(600)
"""


def test_a_kill_9_loses_no_segment_the_next_refresh_finds_the_waiting_ones(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    old = make(root, 0, DAY.replace(hour=9))
    reader = ArchiveIndex(root)
    reader.refresh()
    start = DAY.replace(hour=10)
    path = make(root, 0, start)
    past = time.time() - 10   # the folder settled: a listing now is remembered
    os.utime(path.parent, (past, past))
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(root), str(path), str(start.timestamp() + 0.25)],
                              cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        wait_until(lambda: len(reader.day(0, "261126")) == 2, 20.0, interval=0.05)
        reader.refresh()                                  # listed while its recorder still has the row
        assert _stored(root) == [rel(root, old)]
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert [r.file for r in reader.day(0, "261126")] == [rel(root, old)]   # the shown row went with it...
    reader.refresh()                                                       # ...the file is found again
    assert _stored(root) == [rel(root, old), rel(root, path)]
    assert [r.file for r in ArchiveIndex(root).day(0, "261126")] == [rel(root, old), rel(root, path)]


def test_a_row_added_while_it_is_read_is_counted_once(tmp_path: Path, monkeypatch) -> None:
    """The recorder adds its rows, then takes them out of memory; a reader between the two, or
    across them, finds each row once: in memory, in the database, or both (merged)."""
    from common.archive import index as index_module
    root = tmp_path / "rec"
    old = make(root, 0, DAY.replace(hour=9))
    ArchiveIndex(root).refresh()
    start = DAY.replace(hour=10)
    new = make(root, 0, start, 20)
    row = (rel(root, new), 0, start.timestamp(), 30.0, 20, new.stat().st_mtime)
    pending.publish(root, "cam0", [row])
    writer = ArchiveIndex(root)
    real = pending.read

    def read_then_added(at: Path) -> list:
        shown = real(at)
        if pending.pending_path(root, "cam0").exists():   # the recorder's batch goes in just after
            writer.add([Recording(*row)])
            pending.publish(root, "cam0", [])
        return shown

    for ask in (lambda ix: [r.file for r in ix.day(0, "261126")], lambda ix: ix.days(0),
                lambda ix: ix.total_bytes()):
        pending.publish(root, "cam0", [row])
        writer.remove(rel(root, new))
        monkeypatch.setattr(index_module.pending, "read", read_then_added)
        try:
            got = ask(ArchiveIndex(root))
        finally:
            monkeypatch.setattr(index_module.pending, "read", real)
        assert got in ([rel(root, old), rel(root, new)], [("261126", 2, 30)], 30), got


def test_a_follower_of_the_write_order_sees_waiting_rows_at_once_and_misses_none(tmp_path: Path) -> None:
    """The off-site copy follows the write order: a segment waiting in memory is in it at once
    (the copy does not wait for the batch), and its row, once added, is seen again, never lost."""
    root = tmp_path / "rec"
    first = make(root, 0, DAY.replace(hour=9))
    ArchiveIndex(root).refresh()
    reader = ArchiveIndex(root)
    indexer = Indexer(root, "cam0", batch_s=3600, batch_rows=3)
    seen: list[str] = []
    mark = FIRST_KEY

    def follow(limit: int = 2) -> None:
        nonlocal mark
        while found := reader.written_after(mark, limit):
            seen.extend(rec.file for rec, _ in found)
            mark = found[-1][1]
    try:
        starts = [DAY.replace(hour=10) + timedelta(seconds=30 * i) for i in range(5)]
        paths = []
        for i, start in enumerate(starts):
            paths.append(make(root, 0, start, 100 + i))
            time.sleep(0.01)   # (write order: one after the other)
            _finish(indexer, root, paths[-1], start)
            wait_until(lambda i=i: len(reader.day(0, "261126")) == i + 2, 5.0, interval=0.02)
            follow()
            assert seen[-1] == rel(root, paths[-1])            # the newest, at once
    finally:
        indexer.close(timeout=10)
    follow()
    assert len(_stored(root)) == 6
    assert set(seen) == {rel(root, p) for p in [first, *paths]}   # every one (some twice)
    assert seen[0] == rel(root, first)


def test_a_restarted_recorder_drops_what_its_predecessor_showed_so_its_refresh_finds_the_files(
        tmp_path: Path) -> None:
    """Its predecessor was killed and another process took its pid: the rows it left in memory
    must not keep a refresh from listing their files."""
    root = tmp_path / "rec"
    start = DAY.replace(hour=10)
    path = make(root, 0, start)
    pending.publish(root, "cam0", [(rel(root, path), 0, start.timestamp(), 30.0, 10, path.stat().st_mtime)])
    ArchiveIndex(root).refresh()
    assert _stored(root) == []                   # left to a live writer (this process has the pid)
    indexer = Indexer(root, "cam0")
    try:
        index = ArchiveIndex(root)
        index.refresh(0, full=True)              # as the recorder's start does
        assert _stored(root) == [rel(root, path)]
    finally:
        indexer.close()
