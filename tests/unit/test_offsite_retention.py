"""Retention spares segments waiting to go off-site, unless the free-space floor forces them."""
from __future__ import annotations

from pathlib import Path

from common.archive.index import FIRST_KEY, Recording
from common.archive.offsite_queue import UploadQueue
from recorder.retention.diskguard import GB
from tests.support.archive import oldest_first
from tests.support.disk import MB, SmallDisk, make_file, small_guard


def _queue(root: Path, files: list[str]) -> None:
    q = UploadQueue(root)
    q.follow([(Recording(f, int(f[3]), 0.0, 30.0, MB, 0.0, False), FIRST_KEY) for f in files])
    q.close()


def _names(n: int) -> list[str]:
    return [f"cam{i % 2}/261126/cam{i % 2}_20261126_0000{i}0.mp4" for i in range(n)]


def test_quota_spares_a_queued_segment(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    names = _names(5)
    for name in names:
        make_file(root, name, MB)
    _queue(root, names[:1])
    g = small_guard(root, SmallDisk(100 * MB), quota_gb=2.5 * MB / GB)
    g.check()
    assert [r.file for r in oldest_first(root)] == [names[0], names[4]]


def test_the_free_space_floor_takes_queued_segments_too(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    names = _names(6)
    for name in names:
        make_file(root, name, MB)
    _queue(root, names)
    g = small_guard(root, SmallDisk(8 * MB))   # 2 MB free: under the floor
    state = g.check()
    assert state.deleted_count > 0 and [d["file"] for d in g.deleted] == names[:state.deleted_count]
