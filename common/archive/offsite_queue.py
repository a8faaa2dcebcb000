"""The upload queue: which finished segments must leave the box, and which have.

One row per segment in ``<recordings root>/offsite.sqlite`` (WAL), next to the archive index, so
the queue survives a kill -9, a reboot and an outage of any length.  A row is ``queued`` until the
remote confirmed the whole file (size, and hash where the remote has one), then ``sent``; a row
whose file vanished before it was sent (retention under the free-space floor) is ``lost`` and
counted for the health page.  The archive index is followed by its write order: ``follow`` keeps
the place reached (the high-water mark) so a restart neither skips nor repeats a segment.

Order of sending: segments holding a motion event first, then the newest first, so when the
line was down the minutes before a theft leave first.  The motion process marks an event's
segments only once they are all written, so mostly after they were queued: :meth:`flag_events`
follows the events database by event id (its own mark, ``event_mark``) and flags those segments
then (in ``events`` mode it queues them: a plain segment becomes one to send).

Only a batch is ever in memory; the table holds the backlog, and sent rows older than
``SENT_KEEP_S`` are pruned (the newest sent per camera stays: it is what health reports).
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from common.archive import segment_name
from common.archive.events import EventSegments
from common.archive.index import FIRST_KEY, Recording, WriteKey, start_from_name

DB_NAME = "offsite.sqlite"
BUSY_MS = 200
SENT_KEEP_S = 7 * 86400.0
LOST_KEEP = 1000        # lost rows kept (each is a line of evidence that never left)
# An event still without its segments this long after its end (its video deleted, say) no longer
# holds the event mark back; one still open does.
STALE_S = 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    file TEXT PRIMARY KEY,          -- cam{N}/YYMMDD/<name>, relative to the recordings root
    camera INTEGER NOT NULL,
    start REAL NOT NULL,
    size INTEGER NOT NULL,
    event INTEGER NOT NULL,         -- 1: holds a motion event (sent first)
    state TEXT NOT NULL,            -- queued | sent | lost
    tries INTEGER NOT NULL DEFAULT 0,
    done_at REAL                    -- when sent or found lost
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_order ON queue (state, event DESC, start DESC);
CREATE INDEX IF NOT EXISTS queue_done ON queue (state, done_at);   -- the last sent, read every second
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- events whose thumbnail and metadata must go (with their segments), and those that went
CREATE TABLE IF NOT EXISTS event_files (
    event_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,            -- queued | sent
    done_at REAL
);
"""


@dataclass(frozen=True)
class Item:
    """One segment to send."""

    file: str
    camera: int
    start: float
    size: int
    event: bool
    tries: int


@dataclass(frozen=True)
class Backlog:
    """One camera's segments not off-site yet."""

    segments: int
    bytes: int
    oldest_start: float | None


def db_path(root: Path) -> Path:
    return Path(root) / DB_NAME


class UploadQueue:
    """The queue in ``root``; ``mode`` "events" queues only the segments holding an event."""

    def __init__(self, root: Path, mode: str = "all") -> None:
        self.path = db_path(root)
        self.events_only = mode == "events"
        self.conn = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # -- following the archive ------------------------------------------------------------------
    def mark(self) -> WriteKey:
        """The place in the archive's write order up to which segments were queued."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'mark'").fetchone()
        if row is None:
            return FIRST_KEY
        a, b, c, d, e = json.loads(row[0])
        return (int(a), float(b), int(c), int(d), int(e))

    def follow(self, found: list[tuple[Recording, WriteKey]]) -> int:
        """Queue segments the archive index listed after :meth:`mark`, and move the mark past
        them, in one transaction; returns how many were queued."""
        if not found:
            return 0
        rows = [(r.file, r.camera, r.start, r.size, int(bool(r.event))) for r, _ in found
                if r.event or not self.events_only]
        with self._transaction():
            self.conn.executemany("INSERT OR IGNORE INTO queue (file, camera, start, size, event, state) "
                                  "VALUES (?, ?, ?, ?, ?, 'queued')", rows)
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('mark', ?)",
                              (json.dumps(list(found[-1][1])),))
        return len(rows)

    def event_mark(self) -> int:
        """The event id up to which every event's segments were flagged."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'event_mark'").fetchone()
        return 0 if row is None else int(row[0])

    def flag_events(self, events: list[EventSegments], now: float | None = None) -> int:
        """Flag the segments of ``events`` (read after :meth:`event_mark`, in id order) as event
        segments, queue them in ``events`` mode, and move the event mark past every event settled
        before the first still waiting for its segments; returns how many segments were flagged."""
        if not events:
            return 0        # nothing new: no write (this runs every few seconds, all day)
        now = time.time() if now is None else now
        place, settled = self.event_mark(), True
        rows: list[tuple[str, int, float, int]] = []
        with_video = []
        for event_id, files, end in events:
            if files is None and (end is None or end > now - STALE_S):
                settled = False
            elif settled:
                place = event_id
            found = [r for r in map(self._row_of, files or []) if r is not None]
            rows.extend(found)
            if found:
                with_video.append((event_id,))
        with self._transaction():
            self.conn.executemany("INSERT OR IGNORE INTO event_files (event_id, state) VALUES (?, 'queued')",
                                  with_video)
            for row in rows:
                if self.events_only:
                    self.conn.execute("INSERT OR IGNORE INTO queue (file, camera, start, size, event, state) "
                                      "VALUES (?, ?, ?, ?, 1, 'queued')", row)
                self.conn.execute("UPDATE queue SET event = 1 WHERE file = ? AND state = 'queued'", (row[0],))
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('event_mark', ?)", (str(place),))
        return len(rows)

    def _row_of(self, file: str) -> tuple[str, int, float, int] | None:
        """The queue's row of a segment file, or None when it is gone or not a segment's path."""
        name = segment_name.parse_rel_path(file)
        if isinstance(name, str):
            return None
        try:
            st = (self.path.parent / file).stat()
        except OSError:
            return None
        return file, name.camera, start_from_name(name, st.st_mtime), st.st_size

    # -- sending --------------------------------------------------------------------------------
    def batch(self, limit: int = 16) -> list[Item]:
        """The next segments to send: event segments first, newest first."""
        rows = self.conn.execute("SELECT file, camera, start, size, event, tries FROM queue WHERE state = 'queued' "
                                 "ORDER BY event DESC, start DESC, file DESC LIMIT ?", (limit,)).fetchall()
        return [Item(f, c, s, z, bool(e), t) for f, c, s, z, e, t in rows]

    def events_waiting(self, limit: int = 1) -> list[int]:
        """Events whose thumbnail and metadata have not gone yet, newest first."""
        rows = self.conn.execute("SELECT event_id FROM event_files WHERE state = 'queued' ORDER BY event_id DESC "
                                 "LIMIT ?", (limit,)).fetchall()
        return [int(r[0]) for r in rows]

    def event_sent(self, event_id: int) -> None:
        self.conn.execute("UPDATE event_files SET state = 'sent', done_at = ? WHERE event_id = ?",
                          (time.time(), event_id))

    def sent(self, file: str, size: int) -> None:
        """The remote confirmed ``file`` whole (``size`` bytes, as sent)."""
        self.conn.execute("UPDATE queue SET state = 'sent', size = ?, done_at = ? WHERE file = ?",
                          (size, time.time(), file))

    def failed(self, file: str) -> None:
        self.conn.execute("UPDATE queue SET tries = tries + 1 WHERE file = ?", (file,))

    def lost(self, file: str) -> None:
        """``file`` was deleted before it was sent."""
        self.conn.execute("UPDATE queue SET state = 'lost', done_at = ? WHERE file = ? AND state = 'queued'",
                          (time.time(), file))

    def prune(self, now: float | None = None) -> None:
        """Forget sent rows older than SENT_KEEP_S but each camera's newest, and old lost rows."""
        now = time.time() if now is None else now
        with self._transaction():
            self.conn.execute(
                "DELETE FROM queue WHERE state = 'sent' AND done_at < ? AND file NOT IN "
                "(SELECT (SELECT q.file FROM queue q WHERE q.camera = c.camera AND q.state = 'sent' "
                "ORDER BY q.start DESC LIMIT 1) FROM (SELECT DISTINCT camera FROM queue WHERE state = 'sent') c)",
                (now - SENT_KEEP_S,))
            self.conn.execute("DELETE FROM event_files WHERE state = 'sent' AND done_at < ?", (now - SENT_KEEP_S,))
            self.conn.execute("DELETE FROM queue WHERE state = 'lost' AND file NOT IN "
                              "(SELECT file FROM queue WHERE state = 'lost' ORDER BY done_at DESC LIMIT ?)",
                              (LOST_KEEP,))

    # -- what health reports --------------------------------------------------------------------
    def backlog(self) -> dict[int, Backlog]:
        rows = self.conn.execute("SELECT camera, count(*), coalesce(sum(size), 0), min(start) FROM queue "
                                 "WHERE state = 'queued' GROUP BY camera").fetchall()
        return {c: Backlog(n, b, s) for c, n, b, s in rows}

    def newest_sent(self) -> dict[int, tuple[str, float]]:
        """Per camera, the newest segment off-site: its file and start."""
        rows = self.conn.execute("SELECT camera, file, max(start) FROM queue WHERE state = 'sent' "
                                 "GROUP BY camera").fetchall()
        return {c: (f, s) for c, f, s in rows}

    def last_sent_at(self) -> float | None:
        """When the remote last confirmed a segment (None: never, or pruned long ago)."""
        row = self.conn.execute("SELECT max(done_at) FROM queue WHERE state = 'sent'").fetchone()
        return None if row[0] is None else float(row[0])

    def lost_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM queue WHERE state = 'lost'").fetchone()[0])

    def _transaction(self) -> _Transaction:
        return _Transaction(self.conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def queued_files(root: Path, busy_ms: int = BUSY_MS) -> frozenset[str]:
    """The segments waiting to leave the box, for retention to spare; empty when there is no
    queue or it cannot be read within ``busy_ms`` (retention then goes on as before)."""
    path = db_path(root)
    if not path.is_file():
        return frozenset()
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=busy_ms / 1000)
        try:
            return frozenset(r[0] for r in conn.execute("SELECT file FROM queue WHERE state = 'queued'"))
        finally:
            conn.close()
    except sqlite3.Error:
        return frozenset()
