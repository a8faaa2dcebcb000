"""Retention with motion events: plain segments go first, event segments are kept
``event_keep_days`` longer, and a deleted segment's events get the "video deleted" mark."""
from __future__ import annotations

import os
import time
from pathlib import Path

from common.archive import events as store
from recorder.retention.diskguard import GB, DiskGuard

MB = 1_000_000
DAY = 86400


def segments_only(capacity: int):
    def free(root: Path) -> int:
        return capacity - sum(p.stat().st_size for p in root.rglob("*.mp4"))
    return free


def make(root: Path, rel: str, age_s: float) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * MB)
    t = time.time() - age_s
    os.utime(path, (t, t))
    return rel


def with_event(root: Path, rel: str, camera: int = 0) -> int:
    s = store.EventStore(store.db_path(root))
    eid = s.open_event(camera, time.time() - 100, 1.0, 0.0, 1.0, None, 0.0)
    s.close_event(eid, time.time() - 90, 2.0, "quiet", time.time() - 95, 1.5, 1.0, None, 0.0, None)
    s.set_segments(eid, [rel])
    s.close()
    return eid


def guard(root: Path, capacity: int, **kw) -> DiskGuard:
    args = {"warn_gb": 0.0, "floor_gb": 2 * MB / GB, "target_gb": 3 * MB / GB, "retention": True, "event_keep_days": 7}
    args.update(kw)
    return DiskGuard(root, free_bytes=segments_only(capacity), **args)


def test_plain_segments_are_deleted_before_event_segments(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    names = [make(root, f"cam0/261126/cam0_20261126_0000{i:02d}.mp4", 600 - i) for i in range(0, 60, 10)]
    eid = with_event(root, names[0])          # the oldest segment holds an event
    g = guard(root, 7 * MB)                   # 6 MB used, 1 MB free: 2 must go
    g.check()
    assert [d["file"] for d in g.deleted] == names[1:3]
    assert (root / names[0]).exists()
    conn = store.connect(store.db_path(root))
    assert store.get_event(conn, eid)["video_deleted"] is False


def test_event_segments_go_once_their_extra_time_is_up_and_keep_their_events(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    old = make(root, "cam0/261101/cam0_20261101_000000.mp4", 9 * DAY)   # 8 days older than the oldest plain one
    plain = [make(root, f"cam0/261109/cam0_20261109_0000{i:02d}.mp4", DAY - i) for i in range(3)]
    eid = with_event(root, old)
    g = guard(root, 5 * MB)                   # 4 MB used, 1 MB free: 2 must go
    g.check()
    assert [d["file"] for d in g.deleted] == [old, plain[0]]
    conn = store.connect(store.db_path(root))
    ev = store.get_event(conn, eid)
    assert ev is not None and ev["video_deleted"] is True   # the event stays, marked


def test_age_limit_is_event_keep_days_longer_for_event_segments(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    held = make(root, "cam0/261110/cam0_20261110_000000.mp4", 5 * DAY)
    plain = make(root, "cam0/261110/cam0_20261110_000030.mp4", 5 * DAY - 30)
    young = make(root, "cam0/261114/cam0_20261114_000000.mp4", 1 * DAY)
    with_event(root, held)
    g = guard(root, 100 * MB, max_age_days=3)
    g.check()
    assert [d["file"] for d in g.deleted] == [plain]
    assert (root / held).exists() and (root / young).exists()
    guard(root, 100 * MB, max_age_days=3, event_keep_days=1).check()   # 3 + 1 days < 5: now it goes
    assert not (root / held).exists()


def test_no_or_broken_events_database_protects_nothing(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    names = [make(root, f"cam0/261126/cam0_20261126_0000{i:02d}.mp4", 600 - i) for i in range(0, 40, 10)]
    g = guard(root, 5 * MB)
    g.check()
    assert [d["file"] for d in g.deleted] == names[:2]
    store.db_path(root).write_bytes(b"this is not a database" * 100)
    make(root, "cam0/261126/cam0_20261126_000100.mp4", 10)
    make(root, "cam0/261126/cam0_20261126_000110.mp4", 5)
    g.check()
    assert g.state.error == "" and [d["file"] for d in g.deleted][2:4] == names[2:4]   # oldest first, as without events
