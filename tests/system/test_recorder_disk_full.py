"""Disk guard in a running recorder: quota retention, and a disk that really fills up (tmpfs)."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.support.mounts import tmpfs
from tests.support.procs import Procs, isolated_env, wait_until
from tests.support.recorder_check import finished, read_segment, status

KB = 1000


def test_quota_deletes_the_oldest_segments_first(tmp_path: Path) -> None:
    # 1 s segments of the synthetic scene are 100-200 kB; the quota keeps a handful.
    env = isolated_env(tmp_path / "sht", recorder__segment_seconds=1, recorder__quota_gb=900 * KB / 1e9,
                       recorder__check_seconds=0.5, ring__slots=32,
                       recorder__keep_continuous_hours=0)   # (the quota never takes the continuous window)
    root = Path(env["SHT__RECORDER__ROOT"])
    procs = Procs(env, tmp_path / "logs")
    try:
        procs.capture(0)
        procs.start("rec0", "-m", "recorder", "--camera", "0")
        st = wait_until(lambda: (s := status(env)).get("retention_deleted_count", 0) >= 3 and s, timeout=60)
        kept = [str(p.relative_to(root)) for p in finished(root)]
        deleted = [d["file"] for d in st["retention_deleted"]]
        assert all(d["reason"] == "quota" for d in st["retention_deleted"])
        assert deleted == sorted(deleted) and max(deleted) < min(kept), (deleted, kept)
        assert all(not (root / d).exists() for d in deleted)
        assert "retention (quota): deleted" in procs.log("rec0")
        assert procs.running["rec0"].poll() is None
    finally:
        procs.close()


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1 MB tmpfs (where one cannot be mounted, the retention logic is covered by test_retention.py)."""
    with tmpfs(tmp_path / f"disk-{uuid.uuid4().hex[:6]}") as mnt:
        yield mnt


def run_on(disk: Path, tmp_path: Path, **overrides: object) -> tuple[dict[str, str], Procs]:
    env = isolated_env(tmp_path / "sht", recorder__segment_seconds=2, recorder__root=str(disk),
                       recorder__check_seconds=0.5, ring__slots=32, **overrides)
    procs = Procs(env, tmp_path / "logs")
    procs.capture(0)
    procs.start("rec0", "-m", "recorder", "--camera", "0")
    return env, procs


def test_full_disk_without_retention_waits_and_retries(small_disk: Path, tmp_path: Path) -> None:
    env, procs = run_on(small_disk, tmp_path, recorder__retention=False, recorder__disk_warn_gb=0.002)
    try:
        st = wait_until(lambda: (s := status(env)).get("state") == "error" and s, timeout=60)
        assert "No space left" in st["last_error"] and st["disk_warning"] is True
        assert procs.running["rec0"].poll() is None, "a full disk must not stop the recorder"
        # Everything written before the disk filled up plays, including the cut segment.
        files = finished(small_disk)
        assert files and all(read_segment(p).frames > 0 for p in files)
        # Free space by hand: the recorder goes on by itself.
        for p in files:
            p.unlink()
        wait_until(lambda: status(env).get("state") == "recording", timeout=30)
        assert procs.running["rec0"].poll() is None
    finally:
        procs.close()


def test_full_disk_with_retention_frees_space_and_goes_on(small_disk: Path, tmp_path: Path) -> None:
    # No floor: only the write error (ENOSPC) makes the guard act; it frees 600 kB.
    env, procs = run_on(small_disk, tmp_path, recorder__free_floor_gb=0, recorder__free_target_gb=0.0006)
    try:
        st = wait_until(lambda: (s := status(env)).get("retention_deleted_count", 0) >= 2 and s, timeout=60)
        # Space ran out while a segment was opened or written ("No space left"), or while it
        # was closed (its last fragment missing: "reached the disk").
        assert "No space left" in st["last_error"] or "reached the disk" in st["last_error"]
        assert "retention (free space): deleted" in procs.log("rec0")
        assert procs.running["rec0"].poll() is None
        wait_until(lambda: status(env).get("state") == "recording", timeout=30)
        kept = [str(p.relative_to(small_disk)) for p in finished(small_disk)]
        deleted = [d["file"] for d in st["retention_deleted"]]
        assert deleted == sorted(deleted) and kept and max(deleted) < min(kept)
    finally:
        procs.close()
