"""A process started with a bad configuration or camera number: one line naming it, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import REPO, isolated_env


@pytest.mark.parametrize("toml, env, words", [
    ("[camera]\nfps = 0\n", {}, ["camera.fps = 0", "a number from 1 to 120"]),
    ("", {"SHT__RING__SLOTS": "two"}, ["ring.slots = 'two'", "expected integer"]),
    ("", {"SHT__CAMERA__COLOUR": "red"}, ["unknown key camera.colour"]),
])
def test_capture_exits_2_with_one_line_on_bad_config(tmp_path: Path, toml: str, env: dict[str, str],
                                                      words: list[str]) -> None:
    full = isolated_env(tmp_path / "sht")
    (tmp_path / "bad.toml").write_text(toml)
    full.update(env, SHT_CONFIG=str(tmp_path / "bad.toml"))
    done = subprocess.run([sys.executable, "-m", "capture", "--camera", "0"], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("config error: "), done.stderr
    for word in words:
        assert word in lines[0]


def test_capture_refuses_a_camera_number_out_of_range(tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "sht", camera__count=1)
    done = subprocess.run([sys.executable, "-m", "capture", "--camera", "1"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--camera 1: allowed values are 0 to 0 (camera.count)" in done.stderr
