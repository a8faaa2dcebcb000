"""Real filesystems for tests: a small tmpfs mounted by the test (root only), and unmounted after."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

WHY = "mounting a tmpfs needs root (CAP_SYS_ADMIN), which CI containers may not give"


def mount_tmpfs(where: Path, size: str = "1m") -> None:
    """Mount a tmpfs of ``size`` at ``where``; the test is skipped (saying why) where that cannot be done."""
    if os.geteuid() != 0:
        pytest.skip(WHY)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): {WHY}")


def unmount(where: Path) -> None:
    """Detach the filesystem at ``where`` at once, even while a process still has a file open on it."""
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


@contextmanager
def tmpfs(where: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (made if missing) for the block."""
    where.mkdir(parents=True, exist_ok=True)
    mount_tmpfs(where, size)
    try:
        yield where
    finally:
        unmount(where)
