"""Retention against field faults: undeletable files, two recorders at once, clock steps and
jumps, files that are not the recorders', symbolic links, unreadable folders, a stuck lock, a
disk too small for the continuous window."""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from recorder.retention.diskguard import LOCK_NAME, LOCKED_LONG_S
from recorder.retention.policy import GB
from recorder.retention.remover import FORGET_S
from recorder.segments.recovery import recover
from tests.support.archive import Recorded, oldest_first
from tests.support.disk import MB, SmallDisk, make_file, on_unlink, small_guard

NAMES = [f"cam0/261125/cam0_20261125_1200{s:02d}.mp4" for s in range(0, 60, 10)]


@pytest.fixture
def undeletable(monkeypatch):
    """Paths whose deletion fails as for an immutable file (retention unlinks by name in its folder)."""
    stuck: set[str] = set()

    def refuse(name: str) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted", name)
    on_unlink(monkeypatch, lambda name: any(Path(s).name == name for s in stuck), refuse)
    return stuck


def test_an_undeletable_oldest_file_is_skipped_and_logged_once(tmp_path: Path, undeletable, caplog) -> None:
    root = tmp_path / "rec"
    paths = [make_file(root, n, MB) for n in NAMES]
    undeletable.add(str(paths[0]))
    disk = SmallDisk(7 * MB)             # 6 MB used: 1 MB free, under the 2 MB floor
    g = small_guard(root, disk)
    with caplog.at_level(logging.INFO, "recorder"):
        state = g.check()
        assert state.error == "" and state.retention == "ok"
        # the oldest stays; the next two oldest went, until 3 MB were free
        assert [d["file"] for d in g.deleted] == NAMES[1:3]
        assert paths[0].exists() and state.free_bytes >= 3 * MB and state.undeletable == 1
        make_file(root, "cam0/261125/cam0_20261125_120100.mp4", MB // 2)   # fill again
        g.index.refresh()   # (its row, as its recorder adds it)
        g.check()
        assert [d["file"] for d in g.deleted] == NAMES[1:4]
    stuck_lines = [r for r in caplog.records if "cannot be deleted" in r.getMessage()]
    assert len(stuck_lines) == 1 and "cam0_20261125_120000.mp4" in stuck_lines[0].getMessage()


def test_what_retention_keeps_counts_the_segments_it_cannot_delete(tmp_path: Path, undeletable) -> None:
    """The oldest segments hold events over their share, but cannot be deleted: they stay on the
    disk, so the status's events go back to them (not "no events")."""
    root = tmp_path / "rec"
    rec = Recorded(root, time.time() - 3600, segment_s=300, size=100_000)
    stuck = rec.record(event=True)
    undeletable.update(str(root / f) for f in stuck)
    rec.record()
    g = small_guard(root, SmallDisk(2_300_000), monotonic=rec.monotonic)
    g.check()
    assert {d["file"] for d in g.deleted} == set(rec.files) - set(stuck) and g.state.undeletable == 2
    assert g.state.kept is not None and g.state.kept.event_age_s == 600
    assert g.state.kept.event_bytes == g.state.kept.total_bytes == 200_000


def test_retention_says_when_it_cannot_keep_the_floor(tmp_path: Path, undeletable) -> None:
    root = tmp_path / "rec"
    for n in NAMES:
        undeletable.add(str(make_file(root, n, MB)))
    g = small_guard(root, SmallDisk(7 * MB))
    state = g.check()
    assert state.error == "" and state.deleted_count == 0 and state.undeletable == len(NAMES)
    assert state.retention.startswith("cannot keep") and "cannot be deleted" in state.retention
    assert all((root / n).exists() for n in NAMES)


def test_two_recorders_do_not_both_delete_for_the_same_shortfall(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "rec"
    for n in NAMES:
        make_file(root, n, MB)
    disk = SmallDisk(7 * MB)      # 1 MB free: 2 MB must go to reach the 3 MB target
    on_unlink(monkeypatch, lambda name: True, lambda name: time.sleep(0.05))   # a slow SD card: passes overlap
    guards = [small_guard(root, disk), small_guard(root, disk)]
    threads = [threading.Thread(target=g.check) for g in guards]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(g.state.deleted_count for g in guards) == 2
    assert len(oldest_first(root)) == len(NAMES) - 2


def test_retention_goes_by_write_order_when_the_clock_stepped_back(tmp_path: Path) -> None:
    """Written first: a day of files named 2026-11-25; then the clock stepped back a day and
    newer files got 2026-11-24 names.  The 25th's files are the older recordings."""
    root = tmp_path / "rec"
    before = [make_file(root, f"cam0/261125/cam0_20261125_1200{s:02d}.mp4", MB, age_s=600 - s) for s in (0, 10, 20)]
    after = [make_file(root, f"cam0/261124/cam0_20261124_1200{s:02d}.mp4", MB, age_s=300 - s) for s in (0, 10, 20)]
    g = small_guard(root, SmallDisk(7 * MB))
    g.check()
    assert [d["file"] for d in g.deleted] == [str(p.relative_to(root)) for p in before[:2]]
    assert all(p.exists() for p in after)


# -- the faults of a full disk's steady state (each one failed on the old guard) -----------------
DAY = 86400.0


def test_a_file_another_program_wrote_is_not_charged_to_the_recorders(tmp_path: Path) -> None:
    """An `apt upgrade` takes 65 MB: free space stays above the floor, so nothing goes (the old
    guard charged the drop to the recorders and emptied the disk); the recorders' own 2 MB
    then make room for twice that, as the index says they wrote it."""
    root = tmp_path / "rec"
    rec = Recorded(root, time.time() - 3600, segment_s=30, size=MB)
    for _ in range(10):
        rec.record()
    g = small_guard(root, SmallDisk(100 * MB), free_floor_gb=10 * MB / GB, free_target_gb=15 * MB / GB)
    g.check()
    make_file(root, "upgrade.bin", 65 * MB)       # 15 MB free: above the 10 MB floor
    assert g.check().deleted_count == 0
    rec.record()                                  # the recorders: 2 MB, 13 MB free, under floor + 4 MB
    g.check()
    assert [d["file"] for d in g.deleted] == rec.files[:2] and g.state.free_bytes >= 15 * MB


def test_a_camera_or_day_folder_that_is_a_symbolic_link_is_never_deleted_through(tmp_path: Path, caplog) -> None:
    root, other = tmp_path / "rec", tmp_path / "other-disk"
    linked = [make_file(other, f"cam1/261125/cam1_20261125_1200{s:02d}.mp4", MB, age_s=900 - s) for s in (0, 10)]
    linked.append(make_file(other, "day/cam0_20261125_110000.mp4", MB, age_s=1000))
    ours = [make_file(root, f"cam0/261126/cam0_20261126_0000{s:02d}.mp4", MB, age_s=600 - s) for s in (0, 10, 20)]
    (root / "cam1").symlink_to(other / "cam1")               # camera 1 records on another disk
    (root / "cam0" / "261125").symlink_to(other / "day")     # and a day of camera 0 was moved there
    assert len(oldest_first(root)) == 6                      # the recordings page lists them all
    g = small_guard(root, lambda r: 10 * MB - sum(p.stat().st_size for p in ours if p.exists()),
                    free_floor_gb=99 * MB / GB, free_target_gb=99 * MB / GB)
    with caplog.at_level(logging.ERROR, "recorder"):
        g.check()
        g.check()
    assert all(p.exists() for p in linked) and not any(p.exists() for p in ours)
    assert g.state.undeletable == 3 and g.state.retention.startswith("cannot keep")
    said = [r.getMessage() for r in caplog.records if "symbolic link" in r.getMessage()]
    assert len(said) == 1, said                               # once per cause, not per file or pass


def test_what_retention_keeps_is_counted_over_the_cameras_it_may_delete_from(tmp_path: Path) -> None:
    """A camera folder that is a symbolic link to another disk holds a minute of segments: the
    continuous time kept is that of the cameras recorded here (10 min), not that minute."""
    root, other = tmp_path / "rec", tmp_path / "other-disk"
    rec = Recorded(root, time.time() - 3600, segment_s=30, size=10)
    for _ in range(20):
        rec.record()
    for s in (0, 30):
        make_file(other, f"cam7/261125/cam7_20261125_1200{s:02d}.mp4", 10, age_s=7200 - s)
    (root / "cam7").symlink_to(other / "cam7")
    g = small_guard(root, SmallDisk(100 * MB), keep_continuous_hours=1, monotonic=rec.monotonic)
    g.check()
    assert g.state.kept is not None and g.state.kept.continuous_s == 600
    assert all(p.exists() for p in (other / "cam7" / "261125").iterdir())
    # An hour on, what could not be deleted is tried again: the link is found again at once,
    # so the pass that forgets it still counts (and deletes) over this disk's cameras only.
    rec.now += FORGET_S
    g.check()
    assert g.state.kept.continuous_s == 600 and g.state.kept.total_bytes == 400   # (cam7's 20 bytes not ours)
    assert "10 min continuous" in g.state.rule
    assert all(p.exists() for p in (other / "cam7" / "261125").iterdir())


def test_a_folder_that_cannot_be_listed_is_skipped_and_recording_starts(tmp_path: Path, monkeypatch, caplog) -> None:
    """A day folder a `sudo` run created: the recorder's start-up (crash leftovers) and
    retention go on without it, and say so once."""
    root = tmp_path / "rec"
    hidden = [make_file(root, f"cam0/261125/cam0_20261125_1200{s:02d}.mp4", MB, age_s=900 - s) for s in (0, 10)]
    seen = [make_file(root, f"cam0/261126/cam0_20261126_0000{s:02d}.mp4", MB, age_s=600 - s) for s in (0, 10, 20)]
    real = os.scandir

    def scandir(path: object = ".") -> object:
        if str(path).endswith("261125"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)  # type: ignore[arg-type]
    monkeypatch.setattr(os, "scandir", scandir)
    with caplog.at_level(logging.WARNING):
        assert recover(root, 0) == []            # (the old start-up raised PermissionError here)
        g = small_guard(root, lambda r: 6 * MB - sum(p.stat().st_size for p in hidden + seen if p.exists()))
        g.check()
        g.check()
    assert [d["file"] for d in g.deleted] == [str(p.relative_to(root)) for p in seen[:2]]
    assert all(p.exists() for p in hidden) and g.state.error == ""
    said = [r.getMessage() for r in caplog.records if "261125" in r.getMessage()]
    assert len(said) == 2 and "recovery" in said[0] and "left out" in said[1], said   # each once


def test_a_folder_whose_permissions_were_fixed_is_deleted_from_at_the_next_pass(tmp_path: Path, monkeypatch) -> None:
    """A day folder retention may not delete from (a `sudo` run made it root's) is left out; once
    its owner or mode changes (given back), the next pass takes its segments, oldest first, not
    an hour later."""
    root = tmp_path / "rec"
    old = [make_file(root, f"cam0/261125/cam0_20261125_1200{s:02d}.mp4", MB, age_s=900 - s) for s in (0, 10)]
    new = [make_file(root, f"cam0/261126/cam0_20261126_0000{s:02d}.mp4", MB, age_s=600 - s) for s in (0, 10, 20, 30)]
    denied = [True]

    def refuse(name: str) -> None:
        if denied[0]:
            raise PermissionError(errno.EACCES, "Permission denied", name)
    on_unlink(monkeypatch, lambda name: name.startswith("cam0_20261125"), refuse)
    clock = [0.0]
    g = small_guard(root, SmallDisk(7 * MB), monotonic=lambda: clock[0])
    g.check()
    assert [d["file"] for d in g.deleted] == [str(p.relative_to(root)) for p in new[:2]]
    denied[0] = False                             # given back: another owner or mode
    os.chmod(old[0].parent, 0o750)
    clock[0] += 60
    make_file(root, "cam0/261126/cam0_20261126_000040.mp4", MB // 2)   # under the floor again: one goes
    g.index.refresh()   # (its row, as its recorder adds it)
    g.check()
    assert [d["file"] for d in g.deleted][2:] == [str(old[0].relative_to(root))]


def test_a_recorder_stuck_holding_the_lock_holds_the_other_up_for_its_wait_only(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    for n in NAMES:
        make_file(root, n, MB)
    clock = [0.0]
    g = small_guard(root, SmallDisk(7 * MB), lock_wait_s=0.2, monotonic=lambda: clock[0])
    stuck = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(stuck, fcntl.LOCK_EX)             # the other recorder, hung in a step on a dying disk
    try:
        done = threading.Thread(target=g.check)
        done.start()
        done.join(10)                             # (the old guard waited for ever)
        assert not done.is_alive() and g.state.deleted_count == 0 and g.state.retention == "ok"
        clock[0] += LOCKED_LONG_S
        g.check()
        assert "held the lock" in g.state.retention
    finally:
        os.close(stuck)
    g.check()
    assert g.state.deleted_count == 2 and g.state.retention == "ok"


def test_a_clock_jump_forward_does_not_age_everything_out(tmp_path: Path) -> None:
    """Three days of half-hour segments, ``max_age_days`` 7: the wall clock jumps a year ahead
    and nothing is older than 7 days by the recorder's own clock (the old guard deleted it
    all); a week that really passes (the monotonic clock) ages them out."""
    root = tmp_path / "rec"
    rec = Recorded(root, time.time() - 3 * DAY, segment_s=1800, size=10)
    for _ in range(3 * 48):
        rec.record(cameras=(0,))
    g = small_guard(root, SmallDisk(100 * MB), max_age_days=7, keep_continuous_hours=1,
                    now=lambda: time.time() + 365 * DAY, monotonic=rec.monotonic)
    g.check()
    assert g.state.deleted_count == 0 and len(rec.present()) == 3 * 48
    rec.now += 5 * DAY                            # no recording for 5 days (the recorder's clock runs on)
    g.check()
    assert {d["reason"] for d in g.deleted} == {"age"} and len(rec.present()) == 4 * 24   # older than 7 days went


def test_segments_named_in_the_future_still_age_out(tmp_path: Path) -> None:
    """A clock a year ahead named (and dated) the first segments; set right, the recorder went
    on.  Those are no younger than the segments written after them, so they age out with them
    (by their own times they never would)."""
    root = tmp_path / "rec"
    rec = Recorded(root, time.time() - 3 * DAY, segment_s=1800, size=10)
    future = [rec.record(cameras=(0,), name_at=rec.now + 365 * DAY)[0] for _ in range(4)]
    for _ in range(3 * 48 - 4):
        rec.record(cameras=(0,))
    g = small_guard(root, SmallDisk(100 * MB), max_age_days=2, keep_continuous_hours=1, monotonic=rec.monotonic)
    g.check()
    assert not any((root / f).exists() for f in future)
    assert len(rec.present()) == 2 * 48 and {d["reason"] for d in g.deleted} == {"age"}


def test_a_thousand_undeletable_files_are_logged_once_per_cause(tmp_path: Path, undeletable, caplog) -> None:
    root = tmp_path / "rec"
    stuck = [make_file(root, f"cam0/26112{d}/cam0_2026112{d}_{i // 60:02d}{i % 60:02d}00.mp4", 1000, age_s=9000 - i)
             for d in (3, 4, 5) for i in range(367)]
    free = [make_file(root, f"cam0/261126/cam0_20261126_0000{s:02d}.mp4", 1000, age_s=60 - s) for s in (0, 10)]
    undeletable.update(str(p) for p in stuck)
    g = small_guard(root, SmallDisk(2 * MB), free_floor_gb=1.9 * MB / GB, free_target_gb=1.9 * MB / GB)
    with caplog.at_level(logging.INFO, "recorder"):
        for _ in range(3):
            g.check()
    assert not any(p.exists() for p in free) and all(p.exists() for p in stuck)
    assert g.state.undeletable == len(stuck) > 1000
    said = [r.getMessage() for r in caplog.records if "Operation not permitted" in r.getMessage()]
    assert len(said) <= 2, said[:5]               # the file, then its folders: once each cause


def test_a_disk_too_small_for_the_window_says_so_and_health_fails(tmp_path: Path) -> None:
    """The disk holds 1 h of both cameras, the window asks for 2: free space takes the window's
    oldest segments (nothing else is left), and the state and health say so (the old guard said ok)."""
    from common.config import load
    from streamer.archive.health import camera_health
    from tests.support.procs import isolated_env

    root = tmp_path / "rec"
    rec = Recorded(root, time.time() - 3 * 3600, segment_s=300, size=100_000)
    g = small_guard(root, SmallDisk(2_500_000), keep_continuous_hours=2, monotonic=rec.monotonic,
                    free_floor_gb=100_000 / GB, free_target_gb=150_000 / GB, segment_seconds=300)
    for _ in range(36):                           # 3 hours
        rec.record()
        g.check()
    assert g.deleted[-1]["rule"] == "inside the continuous window"
    assert g.state.retention.startswith("the disk holds only ") and "keep_continuous_hours = 2" in g.state.retention
    assert g.state.rule.startswith("free space: keeping only ")
    assert g.state.kept is not None and g.state.kept.continuous_s < 2 * 3600
    cfg = load(isolated_env(tmp_path / "sht"))
    doc = {"age_s": 0.5, "state": "recording", **g.status()}
    health = camera_health(cfg, 0, [], doc, True, time.time())
    assert health["status"] == "failing" and any("the disk holds only" in r for r in health["reasons"])
    assert health["retention"]["rule"] == g.state.rule
    assert health["retention"]["kept"] == g.state.kept.doc() and health["retention"]["kept"]["window_cut"]
