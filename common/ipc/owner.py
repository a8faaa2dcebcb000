"""The single writer of a ring segment, frame or packet ring alike.

It creates the segment, or reclaims a dead writer's in place (never a live one's: one owner
per camera), wakes every waiting reader after each commit, and on close marks itself gone
so readers notice at once, then removes the segment.
"""
from __future__ import annotations

import ctypes
import mmap
import os
import time
from abc import ABC, abstractmethod
from typing import ClassVar

import posix_ipc

from common.ipc import futex
from common.ipc.header import STATE_GONE
from common.ipc.segment import RingBusy, SegmentHeader
from common.process.pids import pid_alive


class RingOwner(ABC):
    """Base of a ring kind's writer, which gives its header type and how messages name it."""

    KIND: ClassVar[str]                     # "ring", "packet ring"
    HEADER: ClassVar[type[SegmentHeader]]
    name: str
    stale_seconds: float
    reclaimed: bool
    _mm: mmap.mmap | None
    _h: SegmentHeader
    _wake_word: ctypes.c_uint32
    _wake_addr: int

    def _open_segment(self, size: int) -> int:
        """Map the segment (``size`` bytes): a new one, a dead writer's of the same layout
        (``reclaimed``), or a new one in place of another layout's.  Returns the restarts
        count to publish."""
        restarts = 0
        try:
            shm = posix_ipc.SharedMemory(self.name, posix_ipc.O_CREX, mode=0o600, size=size)
        except posix_ipc.ExistentialError:
            shm = posix_ipc.SharedMemory(self.name)
            restarts, self.reclaimed = self._inspect_existing(shm, size)
            if not self.reclaimed:
                # Another layout (version or size): replace the segment.
                shm.close_fd()
                posix_ipc.unlink_shared_memory(self.name)
                shm = posix_ipc.SharedMemory(self.name, posix_ipc.O_CREX, mode=0o600, size=size)
        self._mm = mmap.mmap(shm.fd, size)
        shm.close_fd()
        self._h = self.HEADER(self._mm)
        self._wake_word, self._wake_addr = self._h.wake_address()
        return restarts

    def _inspect_existing(self, shm: posix_ipc.SharedMemory, size: int) -> tuple[int, bool]:
        """Refuse a live owner; say whether a dead writer's segment can be reused in place."""
        have = os.fstat(shm.fd).st_size
        if have < self.HEADER.SIZE:
            return 0, False
        mm = mmap.mmap(shm.fd, self.HEADER.SIZE)
        try:
            old = self.HEADER(mm)
            if old.get_bytes("magic") != self.HEADER.MAGIC or old.get("version") != self.HEADER.VERSION:
                return 0, False
            pid = int(old.get("writer_pid"))
            age = (time.monotonic_ns() - int(old.get("heartbeat_ns"))) / 1e9
            if (pid != os.getpid() and old.get("writer_state") != STATE_GONE and pid_alive(pid)
                    and age < self.stale_seconds):
                raise RingBusy(f"{self.KIND} {self.name} is already written by live process {pid}")
            return int(old.get("restarts")) + 1, have == size and self._same_layout(old)
        finally:
            mm.close()

    @abstractmethod
    def _same_layout(self, old: SegmentHeader) -> bool:
        """Does a dead writer's header (of the right size) describe the layout this one writes?"""

    def _wake_readers(self) -> None:
        self._wake_word.value = (self._wake_word.value + 1) & 0xFFFFFFFF
        futex.wake_all(self._wake_addr)

    def close(self, unlink: bool = True) -> None:
        """Mark the writer gone (readers notice at once) and remove the segment."""
        if self._mm is None:
            return
        self._h.put("writer_state", STATE_GONE)
        self._wake_readers()
        if unlink:
            try:
                posix_ipc.unlink_shared_memory(self.name)
            except posix_ipc.ExistentialError:
                pass
        del self._wake_word
        self._h.close()
        self._mm = None
