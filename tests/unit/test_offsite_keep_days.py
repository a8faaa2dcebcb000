"""Remote retention (``offsite.keep_days``): files on the remote older than that go, newer stay.
Runs the real rclone against a ``:local:`` remote (a folder), no server needed."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from common.config import load
from offsite.uploader import Uploader
from tests.support.procs import isolated_env

pytestmark = pytest.mark.skipif(shutil.which("rclone") is None, reason="needs the rclone binary (Debian: rclone)")


def test_keep_days_deletes_old_remote_files_and_keeps_new_ones(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    old = remote / "cam0" / "261120" / "cam0_20261120_100000.mp4"
    old_event = remote / "cam0" / "261120" / "events" / "7.json"
    new = remote / "cam0" / "261204" / "cam0_20261204_100000.mp4"
    for f in (old, old_event, new):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x" * 10)
    aged = time.time() - 3 * 86400
    for f in (old, old_event):
        os.utime(f, (aged, aged))
    cfg = load(isolated_env(tmp_path / "sht", camera__count=1, offsite__remote=f":local:{remote}",
                            offsite__keep_days=2))
    cfg.recordings_root.mkdir(parents=True)
    up = Uploader(cfg)
    up.housekeeping(time.time())
    assert up.last_error == ""
    assert not old.exists() and not old_event.exists() and new.is_file()
