"""Real filesystems for tests and the soak: a small tmpfs mounted for a block, unmounted after.

Its free space is the kernel's, as the recorder's disk guard reads it (``statvfs``), so
retention works against a real full disk.  Mounting needs root: a test is skipped without it
(saying why); the soak, a command rather than a test, is refused (:func:`cannot_mount`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

WHY = "mounting a tmpfs needs root (CAP_SYS_ADMIN), which CI containers may not give"


def cannot_mount() -> str:
    """Why this process cannot mount a tmpfs ("" when it can)."""
    if os.geteuid() != 0:
        return WHY
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount and umount are not installed"
    return ""


def _mount(where: Path, size: str) -> str:
    """Mount a tmpfs of ``size`` at ``where``: "" when done, else why not."""
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
                          capture_output=True, text=True, timeout=30)
    return "" if done.returncode == 0 else f"cannot mount a tmpfs here ({done.stderr.strip()})"


def mount_tmpfs(where: Path, size: str = "1m") -> None:
    """Mount a tmpfs of ``size`` at ``where``; the test is skipped (saying why) where that cannot be done."""
    why = cannot_mount() or _mount(where, size)
    if why:
        pytest.skip(f"{why}: {WHY}" if why != WHY else WHY)


def unmount(where: Path) -> None:
    """Detach the filesystem at ``where`` at once, even while a process still has a file open on it."""
    subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


@contextmanager
def tmpfs(where: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (made if missing) for the block (in a test)."""
    where.mkdir(parents=True, exist_ok=True)
    mount_tmpfs(where, size)
    try:
        yield where
    finally:
        unmount(where)


@contextmanager
def small_tmpfs(where: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` MiB at ``where`` for the block, outside a test: RuntimeError
    with the reason where it cannot be mounted."""
    where.mkdir(parents=True, exist_ok=True)
    why = cannot_mount() or _mount(where, f"{size_mb}m")
    if why:
        raise RuntimeError(why)
    try:
        yield where
    finally:
        unmount(where)
