"""Retention's view of motion events: segments that hold one are kept longer.

Plain segments are deleted first.  A segment that holds an event goes only once it is
``recorder.event_keep_days`` older than the oldest plain segment left (its extra time is
up), or, under ``max_age_days``, once it is that many days older than the limit.  A
deleted segment's events stay in the database with the "video deleted" mark.

The events database belongs to the motion process; a missing or unreadable one only
means nothing is protected (retention never stops for it).
"""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Protocol

from common.archive import events as store

log = logging.getLogger("recorder")


class _Rec(Protocol):
    path: Path
    mtime: float


class EventKeep:
    def __init__(self, root: Path, keep_days: float) -> None:
        self.root = root
        self.keep_s = keep_days * 86400
        self._said = ""

    def _warn(self, what: str, exc: Exception) -> None:
        msg = f"events database: {what}: {exc}"
        if msg != self._said:  # once per distinct trouble, not every check
            self._said = msg
            log.warning("%s", msg)

    def held(self) -> set[str]:
        """Segments (relative to the root) that hold an event."""
        try:
            conn = store.connect(store.db_path(self.root))
            if conn is None:
                return set()
            try:
                return store.event_files(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            self._warn("cannot read which segments hold events", exc)
            return set()

    def order(self, recordings: list[_Rec], held: set[str]) -> list[_Rec]:
        """``recordings`` (oldest first) in the order retention should delete them."""
        if not held:
            return recordings
        plain = [r for r in recordings if self.rel(r) not in held]
        holding = [r for r in recordings if self.rel(r) in held]   # both stay oldest first
        cutoff = (min(r.mtime for r in plain) - self.keep_s) if plain else float("-inf")
        due = {id(r) for r in holding if r.mtime < cutoff}
        first = [r for r in recordings if id(r) in due or self.rel(r) not in held]
        return first + [r for r in holding if id(r) not in due]

    def rel(self, rec: _Rec) -> str:
        return rec.path.relative_to(self.root).as_posix()

    def deleted(self, rec: _Rec) -> None:
        try:
            conn = store.connect(store.db_path(self.root))
            if conn is None:
                return
            try:
                store.mark_deleted(conn, self.rel(rec))
            finally:
                conn.close()
        except sqlite3.Error as exc:
            self._warn("cannot mark the events of a deleted segment", exc)
