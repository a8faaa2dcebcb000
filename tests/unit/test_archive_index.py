"""The archive index: rows the recorders add, agreement with the disk, true start times, a
damaged or foreign database, writers and readers at once, and an events database that is locked."""
from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.archive import events as store
from common.archive import index as index_module
from common.archive import segment_name
from common.archive.index import DB_NAME, SCHEMA_VERSION, ArchiveIndex, Recording, start_from_name
from recorder.retention.diskguard import DiskGuard
from recorder.segments.indexer import Indexer
from streamer.archive.recordings import find_gaps, list_segments
from tests.support.disk import small_limits
from tests.support.mp4_files import write_segment

DAY = datetime(2026, 11, 26)
MB = 1_000_000


def make(root: Path, camera: int, start: datetime, size: int = 10) -> Path:
    path = root / segment_name.for_start(camera, start).rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    return path


def rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def files(index: ArchiveIndex) -> list[str]:
    index.refresh()
    return [r.file for r in index.oldest_first()]


def test_rows_added_by_a_recorder_are_read_back_with_their_true_start_and_duration(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    index = ArchiveIndex(root)
    paths = [make(root, 0, DAY.replace(hour=10) + timedelta(seconds=s), 1000 + s) for s in (0, 30, 60)]
    true_start = DAY.replace(hour=10).timestamp() + 0.25   # the first frame, from the capture clock
    assert index.add([Recording(rel(root, p), 0, true_start + 30 * i, 29.9, p.stat().st_size, p.stat().st_mtime)
                      for i, p in enumerate(paths)])
    day = index.day(0, "261126")
    assert [r.file for r in day] == [rel(root, p) for p in paths]
    assert day[0].start == pytest.approx(true_start) and day[0].duration == pytest.approx(29.9)
    assert day[0].size == 1000 and day[0].camera == 0 and day[0].name == paths[0].name
    assert index.days(0) == [("261126", 3, 3000 + 90)] and index.days(1) == []
    assert index.total_bytes() == 3090
    assert [r.file for r in index.starting(0, true_start + 1)] == [rel(root, p) for p in paths[1:]]
    assert [r.file for r in index.ending_after(0, true_start + 59)] == [rel(root, p) for p in paths[1:]]
    assert index.newest_written(0) == pytest.approx(paths[-1].stat().st_mtime)
    # the API: start in local time as the names, the gap-free run as one
    docs = list_segments(index, 0, "261126")
    assert docs[0]["start"] == "2026-11-26T10:00:00" and docs[0]["start_s"] == 36000.25
    assert find_gaps(index.day(0, "261126"), []) == []
    # a refresh keeps what the recorder said (it does not re-derive starts from names)
    index.refresh(0, full=True)
    assert index.day(0, "261126")[0].start == pytest.approx(true_start)
    # retention deletes the row with the file
    assert index.remove(rel(root, paths[0]))
    assert index.days(0) == [("261126", 2, 2090)]


def test_files_added_and_removed_behind_its_back_are_found_at_the_next_refresh(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    index = ArchiveIndex(root)
    a = make(root, 0, DAY.replace(hour=1))
    b = write_segment(root, 1, DAY.replace(hour=2), 2.0)
    c = make(root, 0, datetime(2026, 11, 27, 3))
    (root / "cam0" / "261126" / ".cam0_20261126_040000.mp4.part").write_bytes(b"being written")
    (root / "cam0" / "261126" / "notes.txt").write_text("not a segment")
    (root / "cam0" / "backup").mkdir()
    make(root, 0, DAY.replace(hour=5)).rename(root / "cam0" / "backup" / "cam0_20261126_050000.mp4")
    assert files(index) == [rel(root, p) for p in (a, b, c)]
    found = index.day(1, "261126")[0]
    assert found.start == DAY.replace(hour=2).timestamp()          # from its name
    assert found.duration == pytest.approx(2.0, abs=0.05)          # from the file, when asked
    assert index.day(0, "261126")[0].duration is None              # ten zero bytes: no duration in them
    a.unlink()
    d = make(root, 0, DAY.replace(hour=6))
    c.unlink()
    c.parent.rmdir()                                                # a whole day gone
    assert files(index) == [rel(root, p) for p in (b, d)]
    assert index.days(0) == [("261126", 1, 10)]
    for p in (b,):
        p.unlink()
    (root / "cam1" / "261126").rmdir()
    (root / "cam1").rmdir()                                         # a whole camera gone
    assert files(index) == [rel(root, d)]
    assert index.days(1) == []


def test_a_row_lost_with_its_folder_unchanged_is_found_by_the_full_refresh_a_recorder_runs_at_start(
        tmp_path: Path) -> None:
    root = tmp_path / "rec"
    index = ArchiveIndex(root)
    paths = [make(root, 0, DAY.replace(hour=1, second=s)) for s in (0, 30)]
    old = time.time() - 60
    os.utime(root / "cam0" / "261126", (old, old))   # listed long after its last change
    assert files(index) == [rel(root, p) for p in paths]
    with sqlite3.connect(root / DB_NAME) as conn:      # as if the row had never been written
        conn.execute("DELETE FROM recordings WHERE file = ?", (rel(root, paths[1]),))
    index.refresh(0, full=True)
    assert [r.file for r in index.oldest_first()] == [rel(root, p) for p in paths]


def test_a_file_added_in_the_same_instant_as_the_listing_is_not_missed(tmp_path: Path) -> None:
    """A folder's mtime has a coarse resolution: a file added right after a listing may leave
    it unchanged.  A folder listed while its change is recent is listed again next time."""
    root = tmp_path / "rec"
    index = ArchiveIndex(root)
    first = make(root, 0, DAY.replace(hour=1))
    folder = first.parent
    assert files(index) == [rel(root, first)]
    listed_at = folder.stat().st_mtime_ns
    second = make(root, 0, DAY.replace(hour=2))
    os.utime(folder, ns=(listed_at, listed_at))       # the addition within the same mtime tick
    assert files(index) == [rel(root, first), rel(root, second)]


def test_a_folder_that_cannot_be_listed_keeps_its_rows_until_it_can(tmp_path: Path, monkeypatch, caplog) -> None:
    """A `sudo` run made a day folder root's (mode 0700) and changed it: the index cannot list it,
    so it keeps what it knew of it (retention and health still see those segments, which are
    still there), says so once, and finds the change once it can list the folder again."""
    root = tmp_path / "rec"
    index = ArchiveIndex(root)
    known = [make(root, 0, DAY.replace(hour=1, second=s)) for s in (0, 30)]
    other = make(root, 0, datetime(2026, 11, 27, 1))
    assert files(index) == [rel(root, p) for p in (*known, other)]
    real = os.scandir

    def scandir(path: object = ".") -> object:
        if str(path).endswith("261126"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)  # type: ignore[arg-type]
    monkeypatch.setattr(os, "scandir", scandir)
    added = make(root, 0, DAY.replace(hour=2))     # the folder changed: it is listed again
    with caplog.at_level(logging.WARNING, "archive"):
        assert files(index) == [rel(root, p) for p in (*known, other)]
        index.refresh(0, full=True)
    assert index.days(0) == [("261126", 2, 20), ("261127", 1, 10)]
    said = [r.getMessage() for r in caplog.records if "261126" in r.getMessage()]
    assert len(said) == 1 and "cannot list" in said[0], said
    monkeypatch.undo()
    assert files(index) == [rel(root, p) for p in (*known, other, added)]


def test_the_repeated_autumn_hour_is_neither_a_gap_nor_an_overlap(tmp_path: Path, berlin: None) -> None:
    root = tmp_path / "rec"
    index = ArchiveIndex(root)
    change = datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC).timestamp()   # 03:00 summer = 02:00 winter
    starts = [change - 60, change - 30, change, change + 30]       # 02:59:00, 02:59:30, 02:00:00, 02:00:30
    recs = []
    for t in starts:
        local = datetime.fromtimestamp(t)
        p = make(root, 0, local)
        os.utime(p, (t + 30, t + 30))
        recs.append(Recording(rel(root, p), 0, t, 30.0, 10, t + 30))
    assert [Path(r.file).name for r in recs] == ["cam0_20261025_025900.mp4", "cam0_20261025_025930.mp4",
                                                 "cam0_20261025_020000.mp4", "cam0_20261025_020030.mp4"]
    assert index.add(recs)
    docs = list_segments(index, 0, "261025")
    assert [d["file"] for d in docs] == [Path(r.file).name for r in recs]   # by true time
    assert [d["start_epoch"] for d in docs] == starts
    assert find_gaps(index.day(0, "261025"), []) == []
    # A file found without its row: the name fits two instants; its last write tells which.
    name = segment_name.parse("cam0_20261025_020000.mp4")
    assert name is not None
    assert start_from_name(name, written=change - 3600 + 30) == change - 3600   # the first 02:00, summer time
    assert start_from_name(name, written=change + 30) == change                 # the second, winter time


def test_a_folder_whose_new_files_all_have_rows_is_listed_without_a_write(tmp_path: Path) -> None:
    """Today's folder changes at every segment, and its recorder adds the row itself: a
    reader's refresh writes nothing then (the storage is an SD card), and still finds a file
    that came without a row."""
    root = tmp_path / "rec"
    reader, recorder = ArchiveIndex(root), ArchiveIndex(root)
    folder_at = time.time() - 600

    def segment(minute: int, row: bool) -> Path:
        p = make(root, 0, DAY.replace(hour=1, minute=minute))
        if row:
            assert recorder.add([Recording(rel(root, p), 0, p.stat().st_mtime, 30.0, 10, p.stat().st_mtime)])
        os.utime(p.parent, (folder_at + 30 * minute, folder_at + 30 * minute))   # settled
        return p

    first = segment(0, row=True)
    assert files(reader) == [rel(root, first)]          # (the folder's first listing marks it)
    later = [segment(m, row=True) for m in (1, 2)]
    watcher = sqlite3.connect(root / DB_NAME)
    version = watcher.execute("PRAGMA data_version").fetchone()[0]   # moves when another connection commits
    for index in (reader, ArchiveIndex(root)):          # this process and one that never listed it
        assert files(index) == [rel(root, p) for p in (first, *later)]
    assert watcher.execute("PRAGMA data_version").fetchone()[0] == version
    lost = segment(3, row=False)                        # its row never came (a kill -9)
    assert files(reader) == [rel(root, p) for p in (first, *later, lost)]
    watcher.close()


def test_a_new_index_has_small_pages_and_an_older_one_keeps_its_own(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    new, old = tmp_path / "new", tmp_path / "old"
    a, b = make(new, 0, DAY.replace(hour=1)), make(old, 0, DAY.replace(hour=1))
    with monkeypatch.context() as m:
        m.setattr(index_module, "PAGE_BYTES", 4096)     # as the previous version made it
        assert files(ArchiveIndex(old)) == [rel(old, b)]
    assert files(ArchiveIndex(new)) == [rel(new, a)]

    def page_size(root: Path) -> int:
        with sqlite3.connect(root / DB_NAME) as conn:
            return int(conn.execute("PRAGMA page_size").fetchone()[0])
    assert page_size(new) == 1024 and page_size(old) == 4096
    with sqlite3.connect(old / DB_NAME) as conn:
        conn.execute("PRAGMA user_version = 99")        # and started afresh in place, as a backup can
    c = make(old, 0, DAY.replace(hour=2))
    assert files(ArchiveIndex(old)) == [rel(old, b), rel(old, c)] and page_size(old) == 4096


@pytest.mark.parametrize("kind", ["garbage", "foreign", "other version"])
def test_a_damaged_foreign_or_outdated_database_is_rebuilt_from_the_files_with_a_log_line(
        tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "rec"
    paths = [make(root, cam, DAY.replace(hour=cam + 1)) for cam in (0, 1)]
    db = root / DB_NAME
    if kind == "garbage":
        db.write_bytes(b"this is not a database" * 200)
    elif kind == "foreign":
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE notes (text TEXT)")
            conn.execute("INSERT INTO notes VALUES ('someone else''s')")
    else:
        assert files(ArchiveIndex(root)) == [rel(root, p) for p in paths]
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA user_version = 99")
    with caplog.at_level(logging.WARNING, "archive"):
        assert files(ArchiveIndex(root)) == [rel(root, p) for p in paths]
        assert files(ArchiveIndex(root)) == [rel(root, p) for p in paths]   # and only once
    lines = [r.getMessage() for r in caplog.records if r.name == "archive"]
    assert len(lines) == 1 and str(db) in lines[0], lines
    assert ("moved to" if kind == "foreign" else "started afresh") in lines[0]
    if kind == "foreign":
        aside = list(root.glob(f"{DB_NAME}.foreign-*"))
        assert len(aside) == 1
        with sqlite3.connect(aside[0]) as conn:
            assert conn.execute("SELECT text FROM notes").fetchall() == [("someone else's",)]


def test_an_index_another_process_started_afresh_is_seen_by_a_connection_held_open(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    a = make(root, 0, DAY.replace(hour=1))
    holder = ArchiveIndex(root)
    assert files(holder) == [rel(root, a)]
    with sqlite3.connect(root / DB_NAME) as conn:
        conn.execute("PRAGMA user_version = 99")      # an older program's file, say
    b = make(root, 0, DAY.replace(hour=2))
    other = ArchiveIndex(root)
    assert files(other) == [rel(root, a), rel(root, b)]
    assert files(holder) == [rel(root, a), rel(root, b)]


def test_two_recorders_add_at_once_while_a_reader_reads(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    count = 150
    made = {cam: [make(root, cam, DAY.replace(hour=cam + 1, minute=i // 60, second=i % 60)) for i in range(count)]
            for cam in (0, 1)}
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def reader() -> None:
        index = ArchiveIndex(root)
        try:
            while not stop.is_set():
                seen.append(sum(n for _, n, _ in index.days(0) + index.days(1)))
                list(index.oldest_first())
        except BaseException as exc:
            errors.append(exc)

    def recorder(cam: int) -> None:
        indexer = Indexer(root, f"cam{cam}")
        for i, p in enumerate(made[cam]):
            indexer.finished(p, cam, p.stat().st_mtime - 30, 30.0, p.stat().st_size)
            if i % 10 == 0:
                time.sleep(0.001)
        indexer.close(timeout=30)

    threads = [threading.Thread(target=reader)] + [threading.Thread(target=recorder, args=(c,)) for c in (0, 1)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join(60)
    stop.set()
    threads[0].join(60)
    assert errors == []
    index = ArchiveIndex(root)
    assert index.days(0) == [("261126", count, 10 * count)] and index.days(1) == [("261126", count, 10 * count)]
    assert all(r.duration == 30.0 for r in index.oldest_first())
    assert seen and seen == sorted(seen) and seen[-1] <= 2 * count   # rows appear, never vanish or double


def test_a_recorder_hands_segments_over_at_once_while_the_database_is_locked(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    p = make(root, 0, DAY.replace(hour=1))
    ArchiveIndex(root).refresh()
    blocker = sqlite3.connect(root / DB_NAME, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")                # another writer holds the database
    indexer = Indexer(root, "cam0")
    try:
        q = make(root, 0, DAY.replace(hour=2))
        indexer.finished(q, 0, DAY.replace(hour=2).timestamp() + 0.5, 12.5, 10)   # returns: no I/O
        assert [r.file for r in ArchiveIndex(root).oldest_first()] == [rel(root, p)]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    indexer.close(timeout=10)
    got = ArchiveIndex(root).day(0, "261126")
    assert [r.file for r in got] == [rel(root, p), rel(root, q)] and got[1].duration == 12.5


def test_retention_does_not_wait_for_a_locked_events_database(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """A writer holds the events database (exclusive locking): which segments hold an event is
    unknown, so retention goes on oldest first as if none did, and does not wait for the lock."""
    root = tmp_path / "rec"
    names = [make(root, 0, DAY.replace(minute=m), MB) for m in range(4)]
    for i, p in enumerate(names):
        t = time.time() - 600 + i
        os.utime(p, (t, t))
    s = store.EventStore(store.db_path(root))
    eid = s.open_event(0, time.time() - 100, 1.0, 0.0, 1.0, None, 0.0)
    s.set_segments(eid, [rel(root, names[0])])        # the oldest holds an event
    s.close()
    writer = sqlite3.connect(store.db_path(root), isolation_level=None)
    writer.execute("PRAGMA locking_mode = EXCLUSIVE")
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("UPDATE events SET pre_s = 1")
    try:
        g = DiskGuard(root, small_limits(disk_warn_gb=0.0),
                      free_bytes=lambda r: 5 * MB - sum(p.stat().st_size for p in r.rglob("*.mp4")))
        with caplog.at_level(logging.WARNING):
            t0 = time.monotonic()
            g.check()
            took = time.monotonic() - t0
        # (old code: EventKeep waited for its 2 s busy timeout on every pass)
        assert took < store.BUSY_MS / 1000 / 2, took
        assert [d["file"] for d in g.deleted] == [rel(root, p) for p in names[:2]]   # oldest first, event or not
        assert [r.file for r in g.index.oldest_first()] == [rel(root, p) for p in names[2:]]   # rows went too
        assert any("events database" in r.getMessage() and "unknown" in r.getMessage() for r in caplog.records)
    finally:
        writer.execute("COMMIT")
        writer.close()
    g.check()   # the lock is gone: events count again (nothing more to delete here)
    assert g.state.error == ""


# What each earlier schema version lacked.
ADDED_IN = {2: ["DROP INDEX recordings_by_camera_write"], 3: ["DROP TRIGGER recordings_gone", "DROP TABLE gone"]}


@pytest.mark.parametrize("version", [1, 2])
def test_an_index_of_an_earlier_version_is_brought_up_to_date_with_its_rows(tmp_path: Path, caplog,
                                                                            version: int) -> None:
    root = tmp_path / "rec"
    index = ArchiveIndex(root)
    p = make(root, 0, DAY.replace(hour=1))
    later = make(root, 0, DAY.replace(hour=2))
    assert index.add([Recording(rel(root, p), 0, DAY.replace(hour=1).timestamp() + 0.5, 12.5, 10, 1.0),
                      Recording(rel(root, later), 0, DAY.replace(hour=2).timestamp(), 20.0, 10, 2.0)])
    index.close()
    with sqlite3.connect(root / DB_NAME) as conn:   # as that version left it
        for added in range(version + 1, SCHEMA_VERSION + 1):
            for sql in ADDED_IN[added]:
                conn.execute(sql)
        conn.execute(f"PRAGMA user_version = {version}")
    with caplog.at_level(logging.INFO, "archive"):
        again = ArchiveIndex(root)
        assert again.day(0, "261126")[0].duration == 12.5   # the recorder's duration kept: not rebuilt
    assert any(f"version {version} brought up to {SCHEMA_VERSION}" in r.getMessage() for r in caplog.records)
    with sqlite3.connect(root / DB_NAME) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('recordings_by_camera_write', "
                            "'gone', 'recordings_gone')").fetchone()[0] == 3
    later.unlink()
    again.refresh(0, full=True)                     # the added trigger works on the kept rows
    assert again.continuous(0, 30.0) == 0.0         # (the segment before the one that went does not count)


def test_each_cameras_window_is_its_newest_recorded_time(tmp_path: Path) -> None:
    """Counted back from the newest in write order, in recorded seconds: a duration not measured
    yet counts as a nominal segment, an unreadable one as none."""
    root = tmp_path / "rec"
    index = ArchiveIndex(root)
    rows = []
    for i, duration in enumerate([30.0, 30.0, None, -1.0, 30.0]):   # (-1: the file tells no duration)
        p = make(root, 0, DAY.replace(hour=1, minute=i))
        rows.append(Recording(rel(root, p), 0, DAY.replace(hour=1, minute=i).timestamp(), duration, 10, 100.0 + i))
    q = make(root, 1, DAY.replace(hour=2))
    rows.append(Recording(rel(root, q), 1, DAY.replace(hour=2).timestamp(), 30.0, 10, 50.0))
    assert index.add(rows)
    found = {w.camera: w for w in index.windows(keep_s=50, nominal_s=20)}
    assert found[0].since_ns == round(102e9) and found[0].recorded_s == 30 + 0 + 20   # the newest three rows
    w = {w.camera: w for w in index.windows(keep_s=51, nominal_s=20)}[0]
    assert w.since_ns == round(101e9) and w.recorded_s == 80                          # one more
    assert found[1].since_ns == round(50e9) and found[1].recorded_s == 30              # all of camera 1
    assert {w.since_ns for w in index.windows(keep_s=0, nominal_s=20)} == {2**63 - 1}  # no window


def test_a_reader_can_hold_its_connection_from_the_start(tmp_path: Path) -> None:
    def held() -> set[str]:
        out = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                out.add(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        return out

    index = ArchiveIndex(tmp_path / "absent")
    assert index.open() is False          # no recordings root yet: nothing to hold
    index = ArchiveIndex(tmp_path)
    before = held()
    assert index.open() is True
    opened = held() - before
    assert str(tmp_path / DB_NAME) in opened
    index.starting(0, 0.0, time.time())   # a query later opens nothing more
    assert held() - before == opened
    index.close()


def test_a_retention_step_attaches_the_events_database_once_and_lets_it_go(tmp_path: Path) -> None:
    """Questions asked while the events database is held share one ATTACH; it is let go at the
    end of the block, and questions outside a block attach and let go each time."""
    root = tmp_path / "rec"
    names = [make(root, 0, DAY.replace(minute=m)) for m in range(3)]
    s = store.EventStore(store.db_path(root))
    s.set_segments(s.open_event(0, 1000.0, 1.0, 0.0, 1.0, None, 0.0), [rel(root, names[1])])
    s.close()
    index = ArchiveIndex(root)
    index.refresh()
    conn = index._conn()
    assert conn is not None
    said: list[str] = []
    conn.set_trace_callback(said.append)

    def attached() -> list[str]:
        return [row[1] for row in conn.execute("PRAGMA database_list")]

    with index.holding_events():
        held = [index.oldest(True), index.oldest(False), index.oldest(True)]
        assert "ev" in attached()
    assert [found[0].file if found else None for found in held] == [rel(root, names[1]), rel(root, names[0]),
                                                                     rel(root, names[1])]
    assert sum(s.startswith("ATTACH") for s in said) == 1 and "ev" not in attached()
    said.clear()
    assert index.oldest(True) is not None and index.oldest(False) is not None
    assert sum(s.startswith("ATTACH") for s in said) == 2 and "ev" not in attached()


def test_the_oldest_few_of_a_kind_come_in_write_order_from_where_the_last_look_ended(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    names = [make(root, m % 2, DAY.replace(minute=m)) for m in range(7)]
    for i, path in enumerate(names):
        os.utime(path, ns=(0, (1000 + i) * 10**9))   # written in name order
    s = store.EventStore(store.db_path(root))
    s.set_segments(s.open_event(0, 1000.0, 1.0, 0.0, 1.0, None, 0.0), [rel(root, names[2]), rel(root, names[5])])
    s.close()
    index = ArchiveIndex(root)
    index.refresh()
    plain = index.oldest_few(3, False)
    assert [rec.file for rec, _ in plain] == [rel(root, names[i]) for i in (0, 1, 3)]
    after = index.oldest_few(3, False, after=plain[-1][1])
    assert [rec.file for rec, _ in after] == [rel(root, names[i]) for i in (4, 6)]   # fewer than asked: the last
    assert [rec.file for rec, _ in index.oldest_few(5, True)] == [rel(root, names[i]) for i in (2, 5)]
    assert index.oldest(False) == plain[0]


def test_a_look_for_the_oldest_outside_the_windows_does_not_walk_the_rows_inside_them(tmp_path: Path) -> None:
    """Fewer candidates than asked for: the walk in write order stops where the newest window starts."""
    root = tmp_path / "rec"
    root.mkdir()
    index = ArchiveIndex(root)
    start = DAY.timestamp()
    index.add(Recording(f"cam0/261126/cam0_20261126_{i // 120:02d}{i // 2 % 60:02d}{i % 2 * 30:02d}.mp4", 0,
                        start + 30 * i, 30.0, 10, 1000.0 + i) for i in range(2000))
    windows = index.windows(keep_s=30 * 1995, nominal_s=30)   # all but the oldest 5
    conn = index._conn()
    assert conn is not None
    steps: list[int] = []
    conn.set_progress_handler(lambda: steps.append(1) and 0, 100)   # (called every 100 VM instructions)
    found = index.oldest_few(8, None, windows)
    conn.set_progress_handler(None, 0)
    assert [rec.start for rec, _ in found] == [start + 30 * i for i in range(5)]
    assert len(steps) < 40   # (walking the 1,995 rows inside the window took 161)


def test_continuous_time_counted_on_from_a_count_agrees_with_a_count_in_full(tmp_path: Path) -> None:
    """From an earlier count and the rows deleted since; rows that went without being told of
    (another process) are found by their number and counted in full."""
    root = tmp_path / "rec"
    root.mkdir()
    index = ArchiveIndex(root)
    start = DAY.timestamp()

    def row(i: int, duration: float | None = 30.0) -> Recording:
        return Recording(f"cam0/261126/cam0_20261126_00{i // 2:02d}{i % 2 * 30:02d}.mp4", 0, start + 30 * i,
                         duration, 10, 1000.0 + i)
    rows = [row(i, None if i == 3 else 30.0) for i in range(10)]   # (one not measured: a nominal 20 s)
    index.add(rows)
    seconds, last = index.continuous_from(0, 20.0, None)
    assert seconds == index.continuous(0, 20.0) == 9 * 30 + 20
    assert index.remove(rows[0].file, rows[2].file)          # two deleted by this process...
    index.add([row(10)])                                        # ...and one added
    seconds, last = index.continuous_from(0, 20.0, last, [rows[0], rows[2]])
    assert seconds == index.continuous(0, 20.0) == 7 * 30 + 20   # (row 1, behind the newest that went, is out)
    assert index.remove(rows[5].file)                           # another process deleted one
    seconds, again = index.continuous_from(0, 20.0, last, [])
    assert seconds == index.continuous(0, 20.0) == 5 * 30
    assert again is not None and again.rows == 8 and again.gone_ns == round(1005e9)
