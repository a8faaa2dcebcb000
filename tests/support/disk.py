"""A small simulated disk for retention tests: free space computed from the files under a root."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from common.archive.index import DB_NAME
from recorder.retention.diskguard import GB, DiskGuard

MB = 1_000_000


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


def small_guard(root: Path, disk: SmallDisk, **kw: Any) -> DiskGuard:
    """A disk guard that warns under 3 MB free and keeps 2-3 MB free on ``disk``."""
    args: dict[str, Any] = {"warn_gb": 3 * MB / GB, "floor_gb": 2 * MB / GB, "target_gb": 3 * MB / GB,
                            "retention": True}
    args.update(kw)
    return DiskGuard(root, free_bytes=disk, **args)
