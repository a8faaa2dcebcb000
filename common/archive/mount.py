"""The recordings disk that must be mounted (``recorder.require_mount``).

A USB disk or an NFS share that is not mounted leaves its mount point an empty folder on
the SD card; recording into it would fill the card while the owner believes the recordings
are on the disk.  With ``recorder.require_mount`` set to the mount point, recordings are
written only while that path is a mount point (its device differs from its parent's) and
the recordings root lies on that filesystem: the root itself, or while it does not exist
yet, the nearest folder above it (so nothing is ever created across an absent mount).
"""
from __future__ import annotations

import os
from pathlib import Path

KEY = "recorder.require_mount"


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def mount_problem(root: Path, mount_point: str) -> str:
    """Why recordings may not be written under ``root`` now; "" when they may (or no mount is required)."""
    if not mount_point:
        return ""
    where = Path(mount_point)
    try:
        device = os.stat(where).st_dev
        if not os.path.ismount(where):
            return f"the recordings disk is not mounted at {where} ({KEY})"
        if os.stat(_nearest_existing(Path(root))).st_dev != device:
            return f"the recordings folder {root} is not on the disk mounted at {where} ({KEY})"
    except OSError as exc:
        return f"the recordings disk at {where} cannot be checked: {exc.strerror or exc} ({KEY})"
    return ""
