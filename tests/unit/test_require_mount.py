"""recorder.require_mount: with the recordings disk not mounted, nothing is written to the SD
card under its empty mount point; the recorder, health and the page say so, and recording
starts by itself once the disk is there (a real tmpfs, mounted and unmounted by the test)."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from common.archive.gaplog import read_gaplog
from common.archive.index import ArchiveIndex
from common.archive.mount import mount_problem
from common.config import ConfigError, load
from streamer.archive.health import health
from tests.support.mounts import mount_tmpfs, tmpfs, unmount
from tests.support.procs import isolated_env, wait_until


@pytest.mark.parametrize("mount, root", [("mnt/usb", "/mnt/usb/cctv"), ("/mnt/usb", "/srv/cctv"),
                                         ("/mnt/usb", "/mnt/usb/../cctv")])
def test_the_mount_point_is_absolute_and_holds_the_root(tmp_path: Path, mount: str, root: str) -> None:
    with pytest.raises(ConfigError, match=r"recorder\.require_mount"):
        load(isolated_env(tmp_path / "sht", recorder__require_mount=mount, recorder__root=root))


def test_the_root_must_be_on_the_mounted_disk(tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    root = usb / "cctv"
    assert mount_problem(root, "") == ""
    assert mount_problem(root, str(usb)).startswith(f"the recordings disk is not mounted at {usb}")
    with tmpfs(usb):
        assert mount_problem(root, str(usb)) == ""          # not there yet: made on that disk
        elsewhere = tmp_path / "sd-card"
        elsewhere.mkdir()
        root.symlink_to(elsewhere)                           # leads back to the SD card
        assert "is not on the disk mounted at" in mount_problem(root, str(usb))
    assert "not mounted" in mount_problem(root, str(usb))
    assert "cannot be checked" in mount_problem(root, str(tmp_path / "none"))


def _health(rig) -> dict:
    cfg = rig.cfg
    rig.rec.publish()
    index = ArchiveIndex(cfg.recordings_root)
    try:
        return health(cfg, index, rig.rec.board, rig.rec.controls)
    finally:
        index.close()


@pytest.mark.slow
def test_the_recorder_waits_for_its_disk_says_so_and_starts_by_itself(recorder_rig, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "recorder")
    usb = tmp_path / "usb"
    usb.mkdir()
    root = usb / "cctv"
    s = recorder_rig(recorder__segment_seconds=1, recorder__root=str(root), recorder__require_mount=str(usb))
    s.feed(20)
    not_mounted = f"the recordings disk is not mounted at {usb}"
    st = s.rec.status()
    assert st["state"] == "waiting" and st["waiting_for"].startswith(not_mounted)
    h = _health(s)
    assert h["status"] == "failing" and h["reasons"][0].startswith(not_mounted)
    assert h["disk"]["error"].startswith(not_mounted)
    assert list(usb.iterdir()) == []                         # nothing made on the SD card
    mount_tmpfs(usb, "32m")
    try:
        s.feed(90)                                           # 3 s
        wait_until(lambda: len(list(root.glob("cam0/*/*.mp4"))) >= 2, 10)
        assert s.rec.status()["state"] == "recording" and _health(s)["disk"]["error"] == ""
    finally:
        unmount(usb)
    s.feed(20)
    st = s.rec.status()
    assert st["state"] == "waiting" and st["waiting_for"].startswith(not_mounted)
    assert list(usb.iterdir()) == []                         # the empty mount point stays empty
    assert [e["event"] for e in read_gaplog(s.cfg.run_dir, 0)][-1] == "disk absent"
    s.stop()
    assert list(usb.iterdir()) == []
    said = [r.getMessage() for r in caplog.records if r.name == "recorder" and "recordings disk" in r.getMessage()]
    assert len(said) == 3 and "there again" in said[1], said   # once per change: gone, back, gone
