"""How a ring reader (frame or packet ring) waits for its writer: for the next commit, and,
without a live writer, for a new one (re-attach tries paced, not a busy loop)."""
from __future__ import annotations

import time
from collections.abc import Callable

from common.ipc import futex
from common.ipc import segment as ring_segment

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
