"""Fixtures of the system tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fake_camera import FAKES


@pytest.fixture
def pi_env(sht_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """An isolated configuration whose capture processes find the fake Picamera2 (``auto``)."""
    env = dict(sht_env, PYTHONPATH=str(FAKES), SHT__CAMERA__SOURCE="auto", SHT__CAMERA__OVERLAY="false",
               FAKE_PICAMERA2_LOCK_DIR=str(tmp_path / "locks"))
    env.pop("FAKE_PICAMERA2_STALL_AFTER", None)
    return env
