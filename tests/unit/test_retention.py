"""Disk guard and retention on a simulated small disk (free space computed from the files)."""
from __future__ import annotations

from pathlib import Path

from recorder.retention.diskguard import GB, STEP_FILES
from tests.support.archive import oldest_first
from tests.support.disk import MB, SmallDisk, make_file, small_guard


def test_oldest_segments_of_both_cameras_go_first_until_the_target_is_free(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    # interleaved cameras; the day folder changes at midnight
    names = ["cam0/261125/cam0_20261125_235930.mp4", "cam1/261125/cam1_20261125_235945.mp4",
             "cam0/261126/cam0_20261126_000000.mp4", "cam1/261126/cam1_20261126_000015.mp4",
             "cam0/261126/cam0_20261126_000030.mp4", "cam1/261126/cam1_20261126_000045.mp4"]
    for name in names:
        make_file(root, name, MB)
    part = make_file(root, "cam0/261126/.cam0_20261126_000100.mp4.part", MB)   # being written
    other = make_file(root, "cam0/notes.txt", 10)
    disk = SmallDisk(8 * MB)          # 7 MB used: 1 MB free, under the 2 MB floor
    g = small_guard(root, disk)
    state = g.check()
    # deleted oldest first until 3 MB were free: the two files of the 25th, then one more
    assert [d["file"] for d in g.deleted] == names[:3]
    assert state.deleted_count == 3 and state.deleted_bytes == 3 * MB
    assert state.free_bytes >= 3 * MB and not state.warning
    assert part.exists() and other.exists()
    assert not (root / "cam0/261125").exists() and not (root / "cam1/261125").exists()
    assert [r.name for r in oldest_first(root)] == [n.split("/")[-1] for n in names[3:]]


def test_the_rows_of_a_steps_deletions_leave_the_index_in_one_write(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "rec"
    names = [f"cam0/261126/cam0_20261126_0000{i}0.mp4" for i in range(6)]
    for name in names:
        make_file(root, name, MB)
    g = small_guard(root, SmallDisk(7 * MB))          # 1 MB free, under the 2 MB floor: 2 to go for the 3 MB target
    writes: list[tuple[str, ...]] = []
    remove = g.index.remove
    monkeypatch.setattr(g.index, "remove", lambda *files: writes.append(files) or remove(*files))
    g.check()
    gone = [d["file"] for d in g.deleted]
    assert len(gone) >= 2 and writes == [tuple(gone)]   # one transaction for the step, not one per file
    assert [r.file for r in oldest_first(root)] == names[len(gone):]


def test_warning_and_no_deletion_when_retention_is_off(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    for i in range(3):
        make_file(root, f"cam0/261126/cam0_20261126_00000{i}.mp4", MB)
    g = small_guard(root, SmallDisk(4 * MB), retention=False)
    state = g.check()
    assert state.warning and state.free_bytes == MB
    assert state.deleted_count == 0 and len(oldest_first(root)) == 3


def test_nothing_is_listed_or_deleted_while_space_is_plenty(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    make_file(root, "cam0/261126/cam0_20261126_000000.mp4", MB)
    g = small_guard(root, SmallDisk(100 * MB))
    state = g.check()
    assert state.deleted_count == 0 and not state.warning and state.free_bytes == 99 * MB


def test_quota_deletes_oldest_until_under_it(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    for i in range(5):
        make_file(root, f"cam{i % 2}/261126/cam{i % 2}_20261126_0000{i}0.mp4", MB)
    g = small_guard(root, SmallDisk(100 * MB), quota_gb=2.5 * MB / GB)
    g.check()
    left = [r.name for r in oldest_first(root)]
    assert left == ["cam1_20261126_000030.mp4", "cam0_20261126_000040.mp4"]
    assert {d["reason"] for d in g.deleted} == {"quota"}


def test_age_limit_deletes_old_segments_only(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    make_file(root, "cam0/261120/cam0_20261120_120000.mp4", MB, age_s=3 * 86400)
    make_file(root, "cam0/261125/cam0_20261125_120000.mp4", MB, age_s=1 * 86400 - 60)
    g = small_guard(root, SmallDisk(100 * MB), max_age_days=2)
    g.check()
    assert [r.name for r in oldest_first(root)] == ["cam0_20261125_120000.mp4"]
    assert [d["reason"] for d in g.deleted] == ["age"]


def test_a_file_already_deleted_by_the_other_recorder_is_skipped(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "rec"
    a = make_file(root, "cam0/261126/cam0_20261126_000000.mp4", MB)
    b = make_file(root, "cam1/261126/cam1_20261126_000010.mp4", MB)
    assert len(oldest_first(root)) == 2   # listed (the index has both rows)...
    a.unlink()                             # ...then the other camera's recorder deleted one
    g = small_guard(root, SmallDisk(100 * MB), free_floor_gb=99.5 * MB / GB, free_target_gb=99.5 * MB / GB)
    monkeypatch.setattr(g.index, "refresh", lambda *a, **k: None)   # this pass does not see it yet
    assert g.remover.remove("cam0/261126/cam0_20261126_000000.mp4") is False
    g.check()
    assert not b.exists() and g.state.deleted_count == 1
    assert [d["file"] for d in g.deleted] == ["cam1/261126/cam1_20261126_000010.mp4"]
    assert oldest_first(root) == []   # both rows went


def test_history_is_bounded(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    for i in range(30):
        make_file(root, f"cam0/261126/cam0_20261126_00{i:02d}00.mp4", 1000)
    g = small_guard(root, SmallDisk(100 * MB), quota_gb=0.5 * 1000 / GB)
    g.check()
    assert g.state.deleted_count == 30 and len(g.deleted) == 20


def test_only_what_the_recordings_page_lists_is_counted_or_deleted(tmp_path: Path) -> None:
    """The segment name grammar decides: a collision-suffixed segment counts; look-alikes do not."""
    root = tmp_path / "rec"
    segments = ["cam0/261126/cam0_20261126_000000.mp4", "cam0/261126/cam0_20261126_000000_1.mp4",
                "cam0/261126/cam0_20261126_000000_2.mp4", "cam0/261126/cam0_20261126_000000_10.mp4",
                "cam1/261126/cam1_20261126_000010.mp4"]   # oldest first; _2 before _10
    decoys = ["cam0/261126/cam1_20261126_000001.mp4",     # another camera's name in cam0/
              "cam0/261340/cam0_20261340_000002.mp4",     # not a calendar date
              "cam0/backup/cam0_20261126_000003.mp4",     # not a day folder
              "camera0/261126/cam0_20261126_000004.mp4",  # not a camera folder
              "cam0/261126/cam0_20261126_000005.mp4.bak", "cam0/261126/cam0_20261126_000006_01.mp4"]
    for name in segments + decoys:
        make_file(root, name, MB)
    assert [r.file for r in oldest_first(root)] == segments
    g = small_guard(root, SmallDisk(100 * MB), free_floor_gb=99 * MB / GB, free_target_gb=99 * MB / GB)
    g.check()
    assert [d["file"] for d in g.deleted] == segments
    assert all((root / name).exists() for name in decoys)


def test_folders_are_listed_before_a_pass_that_may_delete_and_otherwise_every_ten_minutes(tmp_path: Path) -> None:
    """The recorders add their own rows: a check with room to spare lists no folder (today's
    hold thousands of files), one short of room does, and so does one ten minutes on."""
    from recorder.retention import diskguard
    root = tmp_path / "rec"
    for s in range(4):
        make_file(root, f"cam0/261125/cam0_20261125_1200{s:02d}.mp4", MB, age_s=600 - s)
    clock = [0.0]
    disk = SmallDisk(20 * MB)
    g = small_guard(root, disk, monotonic=lambda: clock[0])
    listed: list[float] = []
    real = g.index.refresh
    g.index.refresh = lambda *a, **k: (listed.append(clock[0]), real(*a, **k))[1]   # type: ignore[method-assign]
    g.check()                                   # the first: its baseline
    for _ in range(5):
        clock[0] += 60
        g.check()
    assert listed == [0.0] and not g.deleted    # (its recounts every two minutes need no listing)
    clock[0] = diskguard.RELIST_S
    g.check()
    assert listed == [0.0, diskguard.RELIST_S]
    make_file(root, "cam0/261125/cam0_20261125_120100.mp4", 15 * MB)   # 1 MB free: under the floor
    clock[0] += 60
    g.check()
    assert listed[-1] == clock[0] and [d["file"] for d in g.deleted][:1] == ["cam0/261125/cam0_20261125_120000.mp4"]


def test_a_step_asks_the_index_for_its_candidates_once_not_once_per_file(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "rec"
    names = [f"cam0/261126/cam0_20261126_00{i // 2:02d}{i % 2 * 30:02d}.mp4" for i in range(20)]
    for name in names:
        make_file(root, name, MB)
    g = small_guard(root, SmallDisk(21 * MB), free_target_gb=18.5 * MB / GB)   # 1 MB free: 18 to go
    asked: list[int] = []
    few = g.index.oldest_few
    monkeypatch.setattr(g.index, "oldest_few", lambda limit, *a, **k: asked.append(limit) or few(limit, *a, **k))
    g.check()
    assert [d["file"] for d in g.deleted] == names[:18]
    steps = -(-18 // STEP_FILES)
    # plain and event candidates once a step, and the status's oldest event once at the end
    assert sorted(asked) == [1] + [STEP_FILES] * len(asked[1:]) and len(asked) <= 2 * steps + 1
