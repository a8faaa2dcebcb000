from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.procs import Procs, isolated_env


@pytest.fixture
def sht_env(tmp_path: Path) -> dict[str, str]:
    """An isolated configuration (ring prefix, port, folders) for one test system."""
    return isolated_env(tmp_path / "sht")


@pytest.fixture
def procs(sht_env: dict[str, str], tmp_path: Path) -> Iterator[Procs]:
    """Processes of one test system; all stopped and their rings removed afterwards."""
    p = Procs(sht_env, tmp_path / "proc-logs")
    try:
        yield p
    finally:
        p.close()
