"""Where state that need not outlive a reboot is kept: in memory, not on the SD card.

Documents rewritten every second (the recorders' and the motion process's status, the
streamer's viewer table) would rewrite an SD card's blocks 86,400 times a day each.  They
go to a tmpfs: ``/dev/shm`` (where the rings are), else ``$XDG_RUNTIME_DIR``, else, on a
system with neither, the run folder.  The folder is shared by every installation on the
machine, so each file is named after the installation's ring prefix, like its rings.
What must survive a reboot (controls, accounts, the session key, the gap log) stays in
the run folder.
"""
from __future__ import annotations

import os
from pathlib import Path

SHM_DIR = Path("/dev/shm")


def volatile_dir(run_dir: Path) -> Path:
    """The folder for state kept in memory (``run_dir`` when the machine has no tmpfs for it)."""
    if SHM_DIR.is_dir():
        return SHM_DIR
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_dir():
        return Path(runtime)
    return Path(run_dir)


def volatile_path(run_dir: Path, prefix: str, name: str) -> Path:
    """The file ``name`` of the installation with ring prefix ``prefix``, kept in memory."""
    return volatile_dir(run_dir) / f"{prefix}{name}"
