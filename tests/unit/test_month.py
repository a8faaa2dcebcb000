"""The simulated month's short version (``python -m tests.month --ci``): 20 hours across the
night the clocks go back, with a wall-clock step and a day folder made unreadable, on a 20 MB
tmpfs that holds about 8 hours, under a 3-hour continuous window.

It runs as a child process of its own (it mounts a tmpfs and forks a child that drops root).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.month import CI

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if os.geteuid() != 0:
        pytest.skip("the simulated month mounts a tmpfs and runs the recorders as another user: it needs root")
    out = tmp_path_factory.mktemp("month") / "report.json"
    run = subprocess.run([sys.executable, "-m", "tests.month", "--ci", "--json", str(out)], cwd=REPO,
                         capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    # (a month that fails exits 1 too, as one with violations does, but writes no report)
    said = f"{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    assert run.returncode in (0, 1) and out.exists(), \
        f"exit {run.returncode}, report {'written' if out.exists() else 'not written'}\n{said}"
    found: dict[str, Any] = json.loads(out.read_text())[0]
    return found


def test_the_short_month_simulates_what_it_says(report: dict[str, Any]) -> None:
    per_camera = round(CI.days * 86400 / 30)
    assert abs(report["written"] - 2 * per_camera) <= 4           # (the clock step ends two segments early)
    assert report["hours_checked"] == int(CI.days * 24)
    assert report["passes"]["count"] > 0 and report["deleted"] > 0, "the disk never filled"
    assert report["repeated_hour_segments"] == [120, 120]          # 02:00-03:00 on 25 October, twice
    assert report["names_stepped_aside"] >= 2 * 120
    assert report["clock_step"]["step_s"] == CI.step_s and report["clock_step"]["in_gap_log"]
    unreadable = report["unreadable"]
    assert unreadable["denied"] and unreadable["files"] > 0 and unreadable["given_back"], unreadable
    assert report["outside_paths"] >= 10
    assert report["events"] > 50 and report["linked"] >= report["events"] - 2   # (one may be open per camera)


def test_the_simulated_disk_is_unmounted_and_removed(report: dict[str, Any]) -> None:
    assert report["disk"] not in Path("/proc/mounts").read_text()
    assert not Path(report["disk"]).exists()


def test_the_short_month_keeps_the_retention_rule(report: dict[str, Any]) -> None:
    summary = {kind: entry["examples"][:1] for kind, entry in report["violations"].items()}
    assert report["violation_total"] == 0, summary
