"""Three minutes of the whole tree: retention on a full disk, viewers coming and going, one kill -9."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.support.mounts import cannot_mount
from tests.support.soak import run_soak

# What a 3-minute soak can show of the soak targets (growth per hour needs the long run).
JUDGED = ("frames dropped outside restarts", "missing segments outside restarts", "health at the end not failing",
          "open files not growing", "killed programs came back", "retention deleted during the soak",
          "no traceback in any log")


@pytest.mark.skipif(bool(cannot_mount()), reason=f"the soak mounts a small tmpfs for the recordings: {cannot_mount()}")
def test_three_minute_soak_loses_nothing_outside_the_restart_of_the_killed_program(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)   # which program is killed; printed with a failure
    report = run_soak(3, seed, tmp_path)
    print(report.text())   # the figures, for a run with -s
    assert len(report.kills) == 1
    assert report.failed(JUDGED) == [], report.text()
