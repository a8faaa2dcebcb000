"""Shared-memory segments made by hand, for readers facing what no writer of ours makes."""
from __future__ import annotations

import os

import posix_ipc


def make_segment(name: str, size: int, content: bytes = b"") -> None:
    """A segment ``name`` of ``size`` bytes (0600) starting with ``content``."""
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREAT, mode=0o600, size=size)
    if content:
        os.pwrite(shm.fd, content, 0)
    shm.close_fd()
