"""A small simulated disk for retention tests: free space computed from the files under a root."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.archive.index import DB_NAME
from common.config.sections import RecorderSection
from recorder.retention.diskguard import DiskGuard
from recorder.retention.policy import GB, Limits

MB = 1_000_000
GUARD_ARGS = ("now", "monotonic", "index", "pause", "lock_wait_s")   # DiskGuard's own, not configuration keys


class SmallDisk:
    """Free space = capacity - bytes of every file under the root but the archive index's
    (whose write-ahead log grows and shrinks by hundreds of kB: these disks are a few MB)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity

    def __call__(self, root: Path) -> int:
        used = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.name.startswith(DB_NAME))
        return self.capacity - used


def make_file(root: Path, rel: str, size: int, age_s: float = 0.0) -> Path:
    """A file of ``size`` bytes at ``rel`` under ``root``, last written ``age_s`` ago."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    if age_s:
        t = time.time() - age_s
        os.utime(path, (t, t))
    return path


def small_limits(**keys: Any) -> Limits:
    """The limits of ``[recorder]`` keys ``keys`` over these: a warning under 3 MB free, 2-3 MB
    kept free, and no continuous window (plain oldest first), for disks of a few MB."""
    base: dict[str, Any] = {"disk_warn_gb": 3 * MB / GB, "free_floor_gb": 2 * MB / GB, "free_target_gb": 3 * MB / GB,
                            "keep_continuous_hours": 0.0}
    return Limits.of(RecorderSection(**{**base, **keys}))


def small_guard(root: Path, disk: SmallDisk, **keys: Any) -> DiskGuard:
    """A disk guard on ``disk`` with :func:`small_limits` (``keys`` may also hold DiskGuard's own arguments)."""
    own = {k: keys.pop(k) for k in GUARD_ARGS if k in keys}
    return DiskGuard(root, small_limits(**keys), free_bytes=disk, **own)


def on_unlink(monkeypatch: Any, matches: Callable[[str], bool], before: Callable[[str], None]) -> None:
    """Call ``before(name)`` ahead of each deletion of a file whose name ``matches`` (retention
    unlinks by name in its folder): to make it slow, hang, or fail."""
    real = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        name = os.path.basename(path)
        if matches(name):
            before(name)
        real(path, *args, **kwargs)
    monkeypatch.setattr(os, "unlink", unlink)
