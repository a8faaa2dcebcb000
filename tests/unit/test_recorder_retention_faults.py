"""Retention against field faults: undeletable files, two recorders at once, a clock step."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from tests.support.archive import oldest_first
from tests.support.disk import MB, SmallDisk, make_file, small_guard

NAMES = [f"cam0/261125/cam0_20261125_1200{s:02d}.mp4" for s in range(0, 60, 10)]


@pytest.fixture
def undeletable(monkeypatch):
    """Paths whose deletion fails as on a read-only remount or for an immutable file."""
    stuck: set[str] = set()
    real = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if str(self) in stuck:
            raise PermissionError(1, "Operation not permitted", str(self))
        real(self, missing_ok=missing_ok)
    monkeypatch.setattr(Path, "unlink", unlink)
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
        g.check()
        assert [d["file"] for d in g.deleted] == NAMES[1:4]
    stuck_lines = [r for r in caplog.records if "cannot delete" in r.getMessage()]
    assert len(stuck_lines) == 1 and "cam0_20261125_120000.mp4" in stuck_lines[0].getMessage()


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
    real = Path.unlink

    def slow_unlink(self: Path, missing_ok: bool = False) -> None:
        time.sleep(0.05)          # a slow SD card: both passes overlap
        real(self, missing_ok=missing_ok)
    monkeypatch.setattr(Path, "unlink", slow_unlink)
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
