"""A program's start-up sets its heap and pages as the memory figures assume."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _thp_enabled(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code + "\nprint([l for l in open('/proc/self/status') "
                          "if l.startswith('THP_enabled:')][0].split()[1])"],
                         cwd=REPO, capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


@pytest.mark.skipif(not any(line.startswith("THP_enabled:") for line in open("/proc/self/status")),
                    reason="this kernel does not report a process's transparent huge page setting")
def test_a_program_asks_for_no_transparent_huge_pages() -> None:
    """libx264 madvises its buffers into 2 MB pages, resident whole: every program turns them off at start."""
    assert _thp_enabled("pass") == "1"
    assert _thp_enabled("from common.process.startup import start_process; start_process()") == "0"
