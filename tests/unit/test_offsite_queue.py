"""The off-site queue: what goes first, that a restart neither skips nor repeats, what health counts."""
from __future__ import annotations

from pathlib import Path

from common.archive.index import ArchiveIndex, Recording, WriteKey
from common.archive.offsite_queue import SENT_KEEP_S, UploadQueue, queued_files


def _rec(camera: int, start: float, event: bool | None = False) -> tuple[Recording, WriteKey]:
    file = f"cam{camera}/261204/cam{camera}_{int(start)}.mp4"
    return Recording(file, camera, start, 30.0, 1000 + int(start), start + 30, event), \
        (int((start + 30) * 1e9), start, 0, camera, int(start))


def test_event_segments_first_then_newest_first(tmp_path: Path) -> None:
    q = UploadQueue(tmp_path)
    q.follow([_rec(0, 100), _rec(0, 130, event=True), _rec(1, 160), _rec(0, 190), _rec(1, 220, event=None)])
    order = [(i.camera, i.start) for i in q.batch(10)]
    assert order == [(0, 130), (1, 220), (0, 190), (1, 160), (0, 100)]


def test_events_mode_queues_only_event_segments(tmp_path: Path) -> None:
    q = UploadQueue(tmp_path, mode="events")
    assert q.follow([_rec(0, 100), _rec(0, 130, event=True), _rec(0, 160, event=None)]) == 1
    assert [i.start for i in q.batch(10)] == [130]


def test_mark_survives_a_restart_and_nothing_is_queued_twice(tmp_path: Path) -> None:
    q = UploadQueue(tmp_path)
    found = [_rec(0, 100), _rec(0, 130)]
    q.follow(found)
    q.sent(found[0][0].file, 1100)
    q.close()
    q = UploadQueue(tmp_path)
    assert q.mark() == found[-1][1]
    q.follow(found)   # the same rows again (a look that raced a restart): no second row, sent stays sent
    assert [i.start for i in q.batch(10)] == [130]
    assert q.newest_sent() == {0: (found[0][0].file, 100)}


def test_backlog_lost_and_prune(tmp_path: Path) -> None:
    q = UploadQueue(tmp_path)
    rows = [_rec(0, 100), _rec(0, 130), _rec(0, 160), _rec(1, 100)]
    q.follow(rows)
    q.sent(rows[0][0].file, 1)
    q.sent(rows[1][0].file, 1)
    q.lost(rows[3][0].file)
    q.lost(rows[1][0].file)   # sent already: stays sent
    assert q.lost_count() == 1
    assert q.backlog()[0].segments == 1 and q.backlog()[0].bytes == 1160 and q.backlog()[0].oldest_start == 160
    assert queued_files(tmp_path) == {rows[2][0].file}
    q.prune(now=10**10 + SENT_KEEP_S)
    # the camera's newest sent row stays (health reports it); the older one goes
    assert q.newest_sent() == {0: (rows[1][0].file, 130)}
    assert q.conn.execute("SELECT count(*) FROM queue WHERE state = 'sent'").fetchone()[0] == 1


def test_follows_the_archive_index_in_write_order(tmp_path: Path) -> None:
    day = tmp_path / "cam0" / "261204"
    day.mkdir(parents=True)
    for name in ("cam0_20261204_100000.mp4", "cam0_20261204_100030.mp4"):
        (day / name).write_bytes(b"x" * 10)
    index = ArchiveIndex(tmp_path)
    index.refresh()
    q = UploadQueue(tmp_path)
    assert q.follow(index.written_after(q.mark())) == 2
    assert index.written_after(q.mark()) == []
    (day / "cam0_20261204_100100.mp4").write_bytes(b"x" * 10)
    index.refresh(full=True)
    found = index.written_after(q.mark())
    assert [r.name for r, _ in found] == ["cam0_20261204_100100.mp4"]


def test_no_queue_protects_nothing(tmp_path: Path) -> None:
    assert queued_files(tmp_path) == frozenset()


def test_last_sent_at_is_the_latest_confirmation_and_survives_a_restart(tmp_path: Path) -> None:
    q = UploadQueue(tmp_path)
    assert q.last_sent_at() is None
    rows = [_rec(0, 100), _rec(1, 130)]
    q.follow(rows)
    q.sent(rows[1][0].file, 1130)
    first = q.last_sent_at()
    q.sent(rows[0][0].file, 1100)
    q.close()
    q = UploadQueue(tmp_path)
    last = q.last_sent_at()
    assert first is not None and last is not None and last >= first
