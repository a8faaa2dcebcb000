"""What both ring readers (frame and packet ring) do alike: find their writer's segment and
check that it is of their kind and version, wait for its next commit, and, without a live
writer, look for a new one (re-attach tries paced, not a busy loop)."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import ClassVar

from common.ipc import futex
from common.ipc import segment as ring_segment
from common.ipc.segment import Refused, SegmentHeader, map_for_reading

log = logging.getLogger("ring")

REATTACH_INTERVAL = 0.2   # how often a reader without a live writer looks for a new one
MAX_WAIT_SLICE = 0.25     # a waiting reader re-checks the writer at least this often


def wait_for_writer(deadline: float, word: int | None, address: int, read_word: Callable[[], int]) -> bool:
    """Sleep until the writer may have committed, never past ``deadline`` (monotonic).

    Attached, ``word`` is the wake word's value before the reader last looked, and the
    futex at ``address`` wakes it on the next commit; detached (``word`` None), it sleeps
    until a re-attach try may be due.  False once the deadline has passed.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    if word is None:
        time.sleep(min(remaining, REATTACH_INTERVAL / 2))
    else:
        futex.wait(address, word, min(remaining, MAX_WAIT_SLICE), read_word)
    return True


class Reattach:
    """A reader's pacing of its looks for a writer: opening the segment, and checking whether
    a stale writer's name now stands for a new segment, each at most every REATTACH_INTERVAL."""

    __slots__ = ("_last_check", "_last_try")

    def __init__(self) -> None:
        self._last_try = 0.0
        self._last_check = 0.0

    def try_due(self) -> bool:
        """May the reader try to open the segment now?  (Counts as the try.)"""
        now = time.monotonic()
        if now - self._last_try < REATTACH_INTERVAL:
            return False
        self._last_try = now
        return True

    def replaced(self, name: str, inode: int) -> bool:
        """Is there a new segment under ``name`` (not ``inode``)?  Then a try is due at once."""
        now = time.monotonic()
        if now - self._last_check < REATTACH_INTERVAL:
            return False
        self._last_check = now
        if not ring_segment.replaced(name, inode):
            return False
        self._last_try = 0.0
        return True


class SegmentReader:
    """Base of a ring kind's reader, which gives its header type and names its writer.

    A segment that cannot be used (none yet, another user's, the wrong kind or version,
    still being set up) counts as "no writer yet": ``error`` says why, a new reason is
    logged once, and the reader tries again at the next paced look.
    """

    KIND: ClassVar[str]                      # "ring", "packet ring": how messages name it
    WRITER: ClassVar[str]                    # the program that writes it, for "... not running"
    HEADER: ClassVar[type[SegmentHeader]]

    def __init__(self, name: str, stale_seconds: float = 2.0) -> None:
        self.name = name
        self.stale_seconds = stale_seconds
        self.error = ""                # why the ring is not usable, for status and logs
        self.attach_count = 0          # how many times a segment was (re)attached
        self._inode = -1
        self._incarnation = 0
        self._reattach = Reattach()
        self._stale_ns = int(stale_seconds * 1e9)
        self._wake_addr = 0

    def _open(self) -> tuple[SegmentHeader, os.stat_result] | None:
        """The writer's segment mapped, when a look is due and its magic and version are this
        reader's; else None, with ``error`` saying why."""
        if not self._reattach.try_due():
            return None
        label = f"{self.KIND} {self.name}"
        try:
            mapped = map_for_reading(self.name, label, self.HEADER.SIZE)
        except Refused as exc:
            if exc.logged:
                self.error = str(exc)
            else:
                self._refuse(str(exc))
            return None
        if mapped is None:
            self.error = f"{label}: no such segment ({self.WRITER} not running)"
            return None
        mm, st = mapped
        header = self.HEADER(mm)
        magic, version = header.get_bytes("magic"), header.get("version")
        why = ""
        if magic != header.MAGIC:
            why = ("writer is still initialising" if magic == bytes(len(magic))
                   else f"wrong magic {magic!r} (expected {header.MAGIC!r})")
        elif version != header.VERSION:
            why = f"layout version {version} (this reader knows {header.VERSION})"
        if why:
            header.close()
            self._refuse(f"{label}: {why}")
            return None
        return header, st

    def _refuse(self, why: str) -> None:
        """A segment that cannot be used counts as no writer yet; logged when the reason changes."""
        if why != self.error:
            log.warning("%s; retrying", why)
        self.error = why
