"""Retention's view of motion events: segments that hold one are kept longer.

Plain segments are deleted first.  A segment that holds an event goes only once it is
``recorder.event_keep_days`` older than the oldest plain segment left (its extra time is
up), or, under ``max_age_days``, once it is that many days older than the limit.  A
deleted segment's events stay in the database with the "video deleted" mark.

Which segments hold an event is the archive index's flag, read from the motion process's
events database; a missing, locked or unreadable one only means nothing is protected
(retention never waits for it).
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator

from common.archive import events as store
from common.archive.index import ArchiveIndex, Recording

log = logging.getLogger("recorder")
MARK_BUSY_MS = 50   # the frame loop runs retention: the "video deleted" mark never holds it up


class EventKeep:
    def __init__(self, index: ArchiveIndex, keep_days: float) -> None:
        self.index = index
        self.keep_s = keep_days * 86400
        self._said = ""

    def order(self) -> Iterator[Recording]:
        """Every segment in the order retention should delete them: the plain ones and those
        whose extra time is up, oldest first, then the other ones that hold an event."""
        first_plain = next(self.index.oldest_first(held=False), None)
        cutoff = first_plain.written - self.keep_s if first_plain else float("-inf")
        for rec in self.index.oldest_first():
            if not (rec.event and rec.written >= cutoff):
                yield rec
        for rec in self.index.oldest_first(held=True):
            if rec.written >= cutoff:
                yield rec

    def deleted(self, rec: Recording) -> None:
        try:
            conn = store.connect(store.db_path(self.index.root), busy_ms=MARK_BUSY_MS)
            if conn is None:
                return
            try:
                store.mark_deleted(conn, rec.file)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            msg = f"events database: cannot mark the events of a deleted segment: {exc}"
            if msg != self._said:  # once per distinct trouble, not every check
                self._said = msg
                log.warning("%s", msg)
