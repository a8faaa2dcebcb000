"""The "video deleted" mark on the events of deleted segments, never waited for.

The motion process owns the events database.  The marks of a step's deletions are written
together, waiting at most ``MARK_BUSY_MS`` for its lock; while motion holds it, the files
stay pending and are marked at a later step.  Bounded: beyond ``PENDING_MAX`` the oldest
pending files are dropped (their events keep no mark), with a log line.
"""
from __future__ import annotations

import logging
import sqlite3
from collections import deque
from pathlib import Path

from common.archive import events as store

log = logging.getLogger("recorder")
MARK_BUSY_MS = 50      # retention never waits longer for the motion process
PENDING_MAX = 1000     # deleted files whose mark waits for the events database


class EventMarks:
    def __init__(self, root: Path) -> None:
        self.path = store.db_path(root)
        self._pending: deque[str] = deque()
        self._said = ""

    @property
    def pending(self) -> int:
        return len(self._pending)

    def deleted(self, file: str) -> None:
        """The segment ``file`` was deleted: its events get the mark (at the next :meth:`flush`)."""
        if len(self._pending) >= PENDING_MAX:
            dropped = self._pending.popleft()
            self._say(f"events database: the mark of {dropped} and older deleted segments is dropped "
                      f"(more than {PENDING_MAX} wait)")
        self._pending.append(file)

    def flush(self) -> None:
        """Mark what is pending, if the events database can be written at once."""
        if not self._pending:
            return
        try:
            conn = store.connect(self.path, busy_ms=MARK_BUSY_MS)
            if conn is None:
                self._pending.clear()   # no events database: no event to mark
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
                for file in self._pending:
                    store.mark_deleted(conn, file)
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                conn.close()
        except sqlite3.Error as exc:
            self._say(f"events database: cannot mark the events of deleted segments now ({exc}); "
                      "tried again at the next pass")
            return
        self._pending.clear()
        self._said = ""

    def _say(self, msg: str) -> None:
        if msg != self._said:   # once per distinct trouble, not every pass
            self._said = msg
            log.warning("%s", msg)
