"""Retention in a thread of its own in each recorder, never on the frame path.

Every ``recorder.check_seconds``, and at once when the recording loop asks for room (a write
failed for lack of space), the thread runs one pass of the disk guard
(:mod:`recorder.retention.diskguard`).  The recording loop never waits for it: asking for room
is a flag and a notify; it retries its write after its own delay, or sooner once
:meth:`RetentionWorker.room_made` says a pass deleted something since it asked.

A thread in each recorder rather than a program of its own: nothing more to supervise or to
keep in memory, and retention runs as long as any recorder does (the guard's lock lets one
pass run at a time; a recorder whose disk hangs holds the other one up for a step at most).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from recorder.retention.diskguard import DiskGuard

log = logging.getLogger("recorder")


class RetentionWorker:
    def __init__(self, guard: DiskGuard, every_s: float, may_run: Callable[[], bool] = lambda: True) -> None:
        self.guard = guard
        self.every_s = every_s
        self.may_run = may_run       # False while the recordings disk is absent: the guard would make its root
        self._wake = threading.Condition()
        self._asked = False
        self._stop = False
        self._passes_with_room = 0   # passes that deleted something
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Free space is measured now (no deletion: the status has it at once); the first pass
        runs at once in the thread."""
        if self._thread is None:
            self.guard.measure()
            self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
            self._thread.start()

    def ask_room(self) -> int:
        """A write failed for lack of space: a pass now, room made whatever free space says.
        Returns a ticket for :meth:`room_made`; never waits."""
        with self._wake:
            self._asked = True
            self._wake.notify()
            return self._passes_with_room

    def room_made(self, ticket: int) -> bool:
        """Has a pass deleted something since :meth:`ask_room` gave ``ticket``?"""
        return self._passes_with_room > ticket

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the step under way."""
        with self._wake:
            self._stop = True
            self.guard.halt = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    if self._stop:
                        return
                    full, self._asked = self._asked, False
                if self.may_run():
                    self._pass(full)
                with self._wake:
                    if not (self._asked or self._stop):
                        self._wake.wait(self.every_s)
        finally:
            self.guard.index.close()

    def _pass(self, full: bool) -> None:
        before = self.guard.state.deleted_count
        try:
            self.guard.check(full)
        except Exception as exc:   # a bug: said loudly (status, health), and the next pass tries again
            why = f"retention pass failed: {type(exc).__name__}: {exc}"
            if why != self.guard.state.error:
                log.exception("%s", why)
            self.guard.state.error = why
        if self.guard.state.deleted_count > before:
            self._passes_with_room += 1
