"""Retention with motion events, on files and the real archive index: the newest
``keep_continuous_hours`` stay whole, event segments keep their share beyond them, and a
deleted segment's events get the "video deleted" mark (later, when motion holds the database)."""
from __future__ import annotations

import errno
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from common.archive import events as store
from recorder.retention.diskguard import DiskGuard
from recorder.retention.policy import GB
from tests.support.archive import Recorded
from tests.support.disk import on_unlink, small_limits

KB = 1000
SEG_S = 300.0                                    # five-minute segments: hours in a few hundred files
T0 = datetime(2026, 11, 20, 8, 0).timestamp()


def segments_only(capacity: int):
    """Free space of a disk holding only the segments (the databases are not counted)."""
    def free(root: Path) -> int:
        return capacity - sum(p.stat().st_size for p in root.rglob("*.mp4"))
    return free


def guard(rec: Recorded, capacity: int, **keys) -> DiskGuard:
    limits = small_limits(disk_warn_gb=0.0, free_floor_gb=20 * KB / GB, free_target_gb=30 * KB / GB,
                          segment_seconds=int(SEG_S), **keys)
    return DiskGuard(rec.root, limits, free_bytes=segments_only(capacity), monotonic=rec.monotonic)


@pytest.mark.slow
def test_a_full_disk_keeps_the_newest_hours_whole_and_events_within_their_share(tmp_path: Path) -> None:
    """The disk holds 6 h of both cameras; every other segment holds an event.  Plain segments
    first (the old rule) left minutes of continuous recording; now the newest 2 h of each camera
    are never touched, event segments beyond them keep 40% of the bytes, and the continuous
    time kept is more than the window."""
    rec = Recorded(tmp_path / "rec", T0, segment_s=SEG_S, size=10 * KB)
    g = guard(rec, capacity=72 * 2 * 10 * KB + 30 * KB, keep_continuous_hours=2, event_share_percent=40)
    window = int(2 * 3600 / SEG_S)                # segments per camera in the window
    for i in range(12 * 12):                      # 12 hours
        rec.record(event=i % 2 == 0)
        g.check()
        present = rec.present()
        for cam in (0, 1):
            mine = [f for f in rec.files if f.startswith(f"cam{cam}/")]
            assert all(f in present for f in mine[-window:]), f"hour {i / 12:.1f}: camera {cam}'s window was cut"
        if g.state.deleted_count:
            outside = [f for cam in (0, 1) for f in [f for f in present if f.startswith(f"cam{cam}/")][:-window]]
            events = sum(1 for f in outside if f in rec.events)
            assert events <= 0.4 * len(present) + 2, f"hour {i / 12:.1f}: {events} of {len(present)} hold events"
    assert g.state.retention == "ok" and g.state.rule.startswith("keeping ")
    kept = g.state.kept
    assert kept is not None and kept.continuous_s > 2 * 3600   # beyond the window: plain segments are kept too
    assert kept.event_age_s is not None and kept.event_age_s > kept.continuous_s   # older events, within their share
    deleted = [d for d in g.deleted if d["file"] in rec.events]
    assert deleted and rec.video_deleted() >= {d["file"] for d in deleted}   # their events stay, marked


def test_the_continuous_time_kept_ends_at_the_newest_segment_that_went(tmp_path: Path) -> None:
    """Two hours of plain segments, then four of events: events are over their share, so the
    oldest event segments go while the older plain ones stay.  What is continuous runs back from
    the newest segment to the newest hole, not to the oldest plain segment across the holes."""
    rec = Recorded(tmp_path / "rec", T0, segment_s=SEG_S, size=10 * KB)
    for i in range(6 * 12):
        rec.record(event=i >= 2 * 12)
    g = guard(rec, capacity=(6 * 12 - 4) * 2 * 10 * KB + 10 * KB, keep_continuous_hours=1, event_share_percent=40)
    g.check()
    present = set(rec.present())
    gone = [f for f in rec.files if f not in present]
    assert gone and set(gone) <= rec.events and all(f in present for f in rec.files[:2 * 2 * 12])
    continuous = []
    for cam in (0, 1):
        mine = [f for f in rec.files if f.startswith(f"cam{cam}/")]
        run = next(i for i, f in enumerate(reversed(mine)) if f not in present)
        continuous.append(run * SEG_S)
    assert g.state.kept is not None and g.state.kept.continuous_s == min(continuous) < 4 * 3600


def test_once_retention_deletes_the_status_says_which_rule_binds_at_once(tmp_path: Path) -> None:
    """The figures were counted before the disk filled ("nothing deleted"); the passes that delete
    come within the two minutes between counts (the second one after events began): after each,
    the status says which rule binds, with what is kept after its deletions, not the words and
    figures of the count before."""
    rec = Recorded(tmp_path / "rec", T0, segment_s=SEG_S, size=10 * KB)
    limits = small_limits(disk_warn_gb=0.0, free_floor_gb=20 * KB / GB, free_target_gb=30 * KB / GB,
                          segment_seconds=int(SEG_S))
    g = DiskGuard(rec.root, limits, free_bytes=segments_only(10 * 10 * KB), monotonic=lambda: 0.0)
    for _ in range(2):
        rec.record()
    g.check()
    assert g.state.deleted_count == 0 and g.state.rule.startswith("nothing deleted: ")
    for event in (False, True):                   # the first pass that deletes, and one after events began
        before = g.state.deleted_count
        while g.state.deleted_count == before:
            rec.record(event=event)
            g.saw_segment(rec.now)
            g.check()
        assert g.state.rule.startswith("keeping "), g.state.rule
        present = rec.present()
        continuous = min(next(i for i, f in enumerate(reversed([f for f in rec.files if f.startswith(f"cam{cam}/")]))
                              if f not in present) * SEG_S for cam in (0, 1))
        oldest_event = next((rec.files.index(f) // 2 * SEG_S + T0 for f in present if f in rec.events), None)
        assert g.state.kept is not None and g.state.kept.continuous_s == continuous, event
        assert g.state.kept.event_age_s == (None if oldest_event is None else rec.now - oldest_event), event


def test_the_events_kept_are_counted_while_the_window_still_holds_them_all(tmp_path: Path) -> None:
    """Nothing is outside the window yet, but the last 10 minutes hold events: the status gives
    their age, not "no events"."""
    rec = Recorded(tmp_path / "rec", T0, segment_s=SEG_S, size=10 * KB)
    for i in range(4):
        rec.record(event=i >= 2)
    g = guard(rec, capacity=10**9, keep_continuous_hours=24)
    g.check()
    assert g.state.kept is not None and g.state.kept.event_age_s == 2 * SEG_S
    assert "no events" not in g.state.rule and "0.0 days of events" in g.state.rule, g.state.rule


def test_the_marks_wait_while_motion_holds_the_events_database(tmp_path: Path) -> None:
    rec = Recorded(tmp_path / "rec", T0, segment_s=SEG_S, size=10 * KB)
    for _ in range(6):
        rec.record(event=True)
    writer = sqlite3.connect(store.db_path(rec.root), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")             # the motion process writes
    g = guard(rec, capacity=12 * 10 * KB + 10 * KB)   # 10 kB free: under the floor
    try:
        g.check()
        assert g.state.deleted_count == 2 and g.marks.pending == 2
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert rec.video_deleted() == set()
    g.check()                                     # the next pass marks them
    assert rec.video_deleted() == {d["file"] for d in g.deleted} and g.marks.pending == 0


@pytest.mark.slow
def test_the_age_limit_takes_event_segments_too_but_never_the_window(tmp_path: Path) -> None:
    rec = Recorded(tmp_path / "rec", T0, segment_s=1800, size=10 * KB)
    for i in range(3 * 48):                       # three days of one camera, half-hour segments
        rec.record(cameras=(0,), event=i % 3 == 0)
    g = guard(rec, capacity=10**9, max_age_days=1, keep_continuous_hours=30)
    g.check()
    assert {d["reason"] for d in g.deleted} == {"age"} and any(d["file"] in rec.events for d in g.deleted)
    assert rec.present() == rec.files[-60:]       # what is left: the 30 h window, though older than a day


def test_no_or_broken_events_database_protects_nothing(tmp_path: Path) -> None:
    rec = Recorded(tmp_path / "rec", T0, segment_s=SEG_S, size=10 * KB)
    names = [rec.record(cameras=(0,))[0] for _ in range(6)]
    g = guard(rec, capacity=7 * 10 * KB)          # 10 kB free: two must go
    g.check()
    assert [d["file"] for d in g.deleted] == names[:2]
    rec.link(names[2:4])
    store.db_path(rec.root).write_bytes(b"this is not a database" * 100)
    rec.record(cameras=(0,))                      # 10 kB written: under the floor again, with headroom
    g.check()
    assert g.state.error == "" and [d["file"] for d in g.deleted][2:] == names[2:4]   # oldest first, events or not


def test_a_recorder_whose_partner_made_the_room_says_which_rule_binds(tmp_path: Path) -> None:
    """Both recorders share the disk and the lock: when one of them made all the room, the
    other's status still says what is kept ("keeping ..."), not "nothing deleted"."""
    rec = Recorded(tmp_path / "rec", T0, segment_s=SEG_S, size=10 * KB)
    deleting = guard(rec, capacity=10 * 10 * KB, keep_continuous_hours=0.1)
    watching = guard(rec, capacity=10 * 10 * KB, keep_continuous_hours=0.1)
    while deleting.state.deleted_count == 0:
        rec.record()
        deleting.saw_segment(rec.now)
        deleting.check()
    watching.saw_segment(rec.now)
    watching.check()
    assert watching.state.deleted_count == 0, "the partner made the room: nothing is left to delete"
    assert watching.state.rule.startswith("keeping "), watching.state.rule


def test_events_in_a_folder_retention_may_not_delete_from_still_count_in_their_share(tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """A day folder a `sudo` run took still fills the disk, and its event segments take their
    share: with them the events are over it, so camera 0's old event segments go before any
    plain segment (counted without them, events looked within their share and plain segments
    younger than kept event segments went)."""
    day = datetime(2026, 11, 20, 23, 0).timestamp()   # the first hour on 20 November, the rest on the 21st
    rec = Recorded(tmp_path / "rec", day, segment_s=SEG_S, size=10 * KB)

    def refuse(name: str) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", name)
    on_unlink(monkeypatch, lambda name: name.startswith("cam1_20261120"), refuse)
    g = guard(rec, capacity=50 * 10 * KB + 25 * KB, keep_continuous_hours=1, event_share_percent=40)
    taken = [f for _ in range(12) for f in rec.record(event=True)]   # the first hour: all events
    gone: list[str] = []
    for _ in range(24):                                              # then two hours, nothing moves
        rec.record()
        before = g.state.deleted_count
        g.check()
        new = g.state.deleted_count - before   # (the status keeps the last few deletions only)
        gone += [d["file"] for d in list(g.deleted)[len(g.deleted) - new:]]
    first_plain = next(i for i, f in enumerate(gone) if f not in rec.events)
    events_gone = [f for f in gone[:first_plain] if f.startswith("cam0/")]
    assert events_gone == [f for f in taken if f.startswith("cam0/")][:len(events_gone)]   # oldest first
    held = sum(1 for f in taken if f.startswith("cam1/"))
    # When the first plain segment went, the event segments left (those it may not delete too)
    # were within 40% of what the disk held (50 segments; one pass's worth of slack).
    assert held + 12 - len(events_gone) <= 0.4 * 50 + 1, gone[:first_plain + 1]
    assert not any(f.startswith("cam1/261120") for f in gone)
