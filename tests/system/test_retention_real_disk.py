"""Disk full, for real: both recorders with retention on a small real file system (a
loop-mounted ext4 image, else a tmpfs) for three minutes.  Recording never stops, every
file plays, free space stays at or above the floor, and the newest WINDOW_S of each camera
(the continuous window) and more stay whole."""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.support.procs import Procs, isolated_env, wait_until
from tests.support.recorder_check import finished, read_segment, status

DISK_MB = 40
FLOOR_GB, TARGET_GB = 0.012, 0.016
WINDOW_S = 30          # the continuous window: about a third of what the disk holds of both cameras
RUN_S = float(os.environ.get("SHT_FULL_DISK_SECONDS", "180"))


def _mount(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True)
    return "" if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


@pytest.fixture
def real_disk(tmp_path: Path):
    """A small ext4 file system in a loop-mounted image; a tmpfs where loop devices are not allowed."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root (CI runs as root)")
    mnt = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    image = tmp_path / "disk.img"
    why = ""
    if shutil.which("mkfs.ext4"):
        with open(image, "wb") as fh:
            fh.truncate(DISK_MB * 1024 * 1024)
        # -m 0: no blocks reserved for root, so the free space the recorder sees is the real one
        why = _mount(["mkfs.ext4", "-q", "-m", "0", str(image)]) or _mount(
            ["mount", "-o", "loop", str(image), str(mnt)])
    else:
        why = "mkfs.ext4 not installed"
    kind = "ext4"
    if why:
        kind = "tmpfs"
        tmpfs_why = _mount(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mnt)])
        if tmpfs_why:
            pytest.skip(f"cannot mount a small file system here: loop ext4 ({why}), tmpfs ({tmpfs_why})")
    try:
        yield mnt, kind
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        image.unlink(missing_ok=True)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_both_recorders_on_a_full_small_disk_for_three_minutes(real_disk, tmp_path: Path) -> None:
    disk, kind = real_disk
    env = isolated_env(tmp_path / "sht", recorder__root=str(disk), recorder__segment_seconds=2,
                       recorder__free_floor_gb=FLOOR_GB, recorder__free_target_gb=TARGET_GB,
                       recorder__disk_warn_gb=TARGET_GB, recorder__check_seconds=0.5, ring__slots=32,
                       recorder__keep_continuous_hours=WINDOW_S / 3600,
                       # The busy street at the old, heavier settings (about 1.3 Mbit/s a camera), so
                       # the small disk reaches its floor within the run.
                       camera__synthetic_scene="street", recorder__preset="ultrafast", recorder__crf=23,
                       recorder__max_bitrate_kbps=0)
    floor = int(FLOOR_GB * 1e9)
    procs = Procs(env, tmp_path / "logs")
    lowest = free_bytes(disk)
    stopped: list[str] = []
    try:
        for cam in (0, 1):
            procs.capture(cam)
            procs.start(f"rec{cam}", "-m", "recorder", "--camera", str(cam))
        wait_until(lambda: all(status(env, cam).get("state") == "recording" for cam in (0, 1)), 30)
        end = time.monotonic() + RUN_S
        while time.monotonic() < end:
            lowest = min(lowest, free_bytes(disk))
            for cam in (0, 1):
                st = status(env, cam)
                if st.get("state") != "recording" or st.get("age_s", 99) > 3:
                    stopped.append(f"cam{cam}: {st.get('state')} {st.get('last_error')}")
                assert procs.running[f"rec{cam}"].poll() is None, procs.log(f"rec{cam}")[-2000:]
            time.sleep(0.25)
        final = {cam: status(env, cam) for cam in (0, 1)}
    finally:
        procs.close()
    print(f"{kind}: lowest free {lowest / 1e6:.1f} MB (floor {floor / 1e6:.1f} MB); "
          f"deleted {[final[c]['retention_deleted_count'] for c in (0, 1)]}")
    assert sum(final[c]["retention_deleted_count"] for c in (0, 1)) > 0, "the disk never reached the floor"
    assert lowest >= floor, f"{kind}: free space fell to {lowest / 1e6:.2f} MB, under the {floor / 1e6:.2f} MB floor"
    assert not stopped, stopped[:5]
    for cam in (0, 1):
        st = final[cam]
        assert st["last_error"] == "" and st["retention_state"] == "ok", st
        # The rule shows in both statuses, also one whose partner made all the room.
        assert st["retention_rule"].startswith("keeping "), st["retention_rule"]   # the window and beyond it
        segs = [read_segment(p) for p in finished(disk, cam)]
        assert len(segs) >= 5 and sum(s.frames for s in segs) >= WINDOW_S * 30   # (30 fps) the window, whole
        for seg in segs:
            assert seg.decoded == seg.frames > 0, f"{seg.path.name}: {seg.decoded} of {seg.frames} decode"
        # what is kept is one unbroken run of frames (retention took the oldest)
        dropped = {e["file"]: e["dropped"] for e in st["recent_segments"]}
        for a, b in itertools.pairwise(segs):
            lost = dropped.get(str(a.path.relative_to(disk)), 0)
            assert b.first_index == a.first_index + a.frames + lost, f"{a.path.name} -> {b.path.name}"
