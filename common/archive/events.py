"""Motion events in SQLite: ``<recorder root>/events.sqlite``.

WAL journal with ``synchronous=NORMAL``: a kill -9 at any moment leaves a consistent
database (SQLite replays or drops the last transaction), and the streamer and the
recorders read while the motion process writes.  An open event's progress is written
every five minutes (every second it is in the motion process's status, in memory: an SD
card is not rewritten every second).  Pictures live in a table of their own: a row that held its
JPEG would copy it again into the journal at every change of the event (its progress, its
end, its segments), since SQLite writes a changed row whole.  A new file gets small pages
(``PAGE_BYTES``): each change copies whole pages into the journal.

An event still open when its writer died is closed by
:meth:`EventStore.close_orphans` when the motion process starts again, at the last moment
motion was seen: the restarted process first brings the event up to the progress its
predecessor last published (:mod:`motion.__main__`).

The table is bounded: events whose video is gone are dropped after ``keep_days``, and
never more than ``MAX_EVENTS`` rows are kept (oldest dropped first), nor more than
``MAX_PICTURES`` pictures (an older event stays listed, without its picture).  The caps are
far above what a disk holds video for (a month of a busy pair of cameras is about 25,000
events): an event dropped while its video is still there would leave the list, and retention
would take its segments for plain ones.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DB_NAME = "events.sqlite"
MAX_EVENTS = 200_000    # a row and its segment links: about 1 kB
MAX_PICTURES = 20_000   # about 15 kB each
BUSY_MS = 2000
PAGE_BYTES = 1024       # a new file's pages (one that has its pages keeps their size)
WAL_BYTES = 1 << 20     # the journal is checkpointed at about this size, and kept at it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    camera INTEGER NOT NULL,
    start_wall REAL NOT NULL,
    start_mono REAL NOT NULL,
    end_wall REAL,
    end_mono REAL,
    last_wall REAL NOT NULL,
    last_mono REAL NOT NULL,
    pre_s REAL NOT NULL DEFAULT 0,
    peak_area REAL NOT NULL DEFAULT 0,
    peak_wall REAL,
    bbox TEXT,
    closed TEXT,
    thumbnail BLOB,                 -- files of an earlier version only: pictures are in thumbnails
    segments TEXT,
    video_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (start_wall);
CREATE TABLE IF NOT EXISTS event_segments (
    file TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (file, event_id)
) WITHOUT ROWID;
"""
# Added by this version: a reader of an earlier version's file adds it too (motion may be off).
_THUMBNAILS = """
CREATE TABLE IF NOT EXISTS thumbnails (
    event_id INTEGER PRIMARY KEY,
    jpeg BLOB NOT NULL
);
"""

# Columns a listing returns (the thumbnail is fetched on its own).
_LIST_COLUMNS = ("id, camera, start_wall, start_mono, end_wall, end_mono, last_wall, pre_s, peak_area, "
                 "peak_wall, bbox, closed, segments, video_deleted, "
                 "thumbnail IS NOT NULL OR EXISTS (SELECT 1 FROM thumbnails t WHERE t.event_id = events.id)")


def db_path(root: Path) -> Path:
    return Path(root) / DB_NAME


def connect(path: Path, create: bool = False, busy_ms: int = BUSY_MS) -> sqlite3.Connection | None:
    """A connection, or None when the database does not exist and ``create`` is off
    (readers never create it: no motion process, no events)."""
    if not create and not Path(path).is_file():
        return None
    if create:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=busy_ms / 1000, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    if create:
        conn.execute(f"PRAGMA page_size = {PAGE_BYTES}")   # (only a file without pages yet takes it)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(_SCHEMA + _THUMBNAILS)
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute(f"PRAGMA wal_autocheckpoint = {max(1, WAL_BYTES // page)}")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_BYTES}")
    elif conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'thumbnails'").fetchone() is None:
        conn.executescript(_THUMBNAILS)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def _row(r: tuple[Any, ...]) -> dict[str, Any]:
    (eid, camera, start_wall, start_mono, end_wall, end_mono, last_wall, pre_s, peak_area, peak_wall, bbox,
     closed, segments, deleted, has_thumb) = r
    return {
        "id": eid, "camera": camera, "start_wall": start_wall, "start_mono": start_mono,
        "end_wall": end_wall, "end_mono": end_mono, "last_wall": last_wall, "open": end_wall is None,
        "pre_s": pre_s, "peak_area_percent": peak_area, "peak_wall": peak_wall,
        "bbox_percent": json.loads(bbox) if bbox else None, "closed": closed,
        "segments": json.loads(segments) if segments is not None else None,
        "video_deleted": bool(deleted), "has_thumbnail": bool(has_thumb),
    }


class EventStore:
    """The motion process's handle: creates the schema and writes events."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        conn = connect(self.path, create=True)
        assert conn is not None
        self.conn = conn

    @classmethod
    def open_or_replace(cls, path: Path) -> tuple[EventStore, str]:
        """The store at ``path``; a file that is not a sound database is moved aside (and
        named in the returned message) and a new one started, so a damaged file never
        stops detection nor makes the process fail at every start."""
        try:
            st = cls(path)
            if st.conn.execute("PRAGMA quick_check").fetchone()[0] == "ok":
                return st, ""
            st.close()
            why = "failed its integrity check"
        except sqlite3.DatabaseError as exc:
            why = str(exc)
        aside = Path(path).with_name(f"{Path(path).name}.damaged-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            try:
                Path(str(path) + suffix).rename(str(aside) + suffix)
            except FileNotFoundError:
                pass
        return cls(path), f"{path} {why}: moved to {aside.name}, new database started"

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One write transaction for the block."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            yield

    def close_orphans(self) -> int:
        """Close events left open by a process that died; returns how many."""
        cur = self.conn.execute(
            "UPDATE events SET end_wall = last_wall, end_mono = last_mono, closed = 'restart' WHERE end_wall IS NULL")
        return cur.rowcount

    def open_event(self, camera: int, start_wall: float, start_mono: float, pre_s: float, peak_area: float,
                   bbox: Iterable[float] | None, peak_wall: float, thumbnail: bytes | None = None) -> int:
        with self.batch():
            cur = self.conn.execute(
                "INSERT INTO events (camera, start_wall, start_mono, last_wall, last_mono, pre_s, peak_area, bbox, "
                "peak_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (camera, start_wall, start_mono, start_wall, start_mono, pre_s, peak_area,
                 json.dumps(list(bbox)) if bbox else None, peak_wall))
            assert cur.lastrowid is not None   # an INSERT just made the row
            self._picture(int(cur.lastrowid), thumbnail)
        return int(cur.lastrowid)

    def _picture(self, event_id: int, thumbnail: bytes | None) -> None:
        if thumbnail is not None:
            self.conn.execute("INSERT INTO thumbnails (event_id, jpeg) VALUES (?, ?) ON CONFLICT (event_id) "
                              "DO UPDATE SET jpeg = excluded.jpeg", (event_id, thumbnail))

    def touch(self, event_id: int, last_wall: float, last_mono: float, peak_area: float,
              bbox: Iterable[float] | None, peak_wall: float, thumbnail: bytes | None = None) -> None:
        """Progress of an event that is still open (written every five minutes); never
        backwards; a ``thumbnail`` of None keeps the stored one."""
        with self.batch():
            cur = self.conn.execute(
                "UPDATE events SET last_wall = ?, last_mono = ?, peak_area = ?, bbox = ?, peak_wall = ? "
                "WHERE id = ? AND end_wall IS NULL AND last_wall <= ?",
                (last_wall, last_mono, peak_area, json.dumps(list(bbox)) if bbox else None, peak_wall,
                 event_id, last_wall))
            if cur.rowcount:
                self._picture(event_id, thumbnail)

    def close_event(self, event_id: int, end_wall: float, end_mono: float, reason: str,
                    last_wall: float, last_mono: float, peak_area: float, bbox: Iterable[float] | None,
                    peak_wall: float, thumbnail: bytes | None) -> None:
        """The event's end (a ``thumbnail`` of None keeps the stored one)."""
        with self.batch():
            self.conn.execute(
                "UPDATE events SET end_wall = ?, end_mono = ?, closed = ?, last_wall = ?, last_mono = ?, "
                "peak_area = ?, bbox = ?, peak_wall = ? WHERE id = ?",
                (end_wall, end_mono, reason, last_wall, last_mono, peak_area,
                 json.dumps(list(bbox)) if bbox else None, peak_wall, event_id))
            self._picture(event_id, thumbnail)

    def unresolved(self, ended_before: float, limit: int = 50) -> list[dict[str, Any]]:
        """Closed events whose covering segments are not known yet, ended before ``ended_before``."""
        rows = self.conn.execute(f"SELECT {_LIST_COLUMNS} FROM events WHERE segments IS NULL AND end_wall IS NOT NULL "
                                 "AND end_wall < ? ORDER BY id LIMIT ?", (ended_before, limit)).fetchall()
        return [_row(r) for r in rows]

    def set_segments(self, event_id: int, files: list[str]) -> None:
        with self.batch():
            self.conn.execute("UPDATE events SET segments = ? WHERE id = ?", (json.dumps(files), event_id))
            self.conn.executemany("INSERT OR IGNORE INTO event_segments (file, event_id) VALUES (?, ?)",
                                  [(f, event_id) for f in files])

    def prune(self, keep_days: float, now: float | None = None) -> int:
        """Drop events whose video is gone once older than ``keep_days``, and any beyond
        MAX_EVENTS, with their links (each event lists its own, so no table is scanned);
        pictures beyond MAX_PICTURES.  Returns how many events went."""
        now = time.time() if now is None else now
        with self.batch():
            gone = self.conn.execute("SELECT id, segments FROM events WHERE video_deleted = 1 AND start_wall < ?",
                                     (now - keep_days * 86400,)).fetchall()
            gone += self.conn.execute("SELECT id, segments FROM events ORDER BY id DESC LIMIT -1 OFFSET ?",
                                      (MAX_EVENTS,)).fetchall()
            ids = dict(gone)
            links = [(str(f), eid) for eid, segs in ids.items() if segs for f in json.loads(segs)]
            self.conn.executemany("DELETE FROM events WHERE id = ?", [(eid,) for eid in ids])
            self.conn.executemany("DELETE FROM thumbnails WHERE event_id = ?", [(eid,) for eid in ids])
            self.conn.executemany("DELETE FROM event_segments WHERE file = ? AND event_id = ?", links)
            self.conn.execute("DELETE FROM thumbnails WHERE event_id IN (SELECT event_id FROM thumbnails "
                              "ORDER BY event_id DESC LIMIT -1 OFFSET ?)", (MAX_PICTURES,))
        return len(ids)


# -- readers (streamer, recorders) ------------------------------------------------------

def list_events(conn: sqlite3.Connection, camera: int | None, start_wall: float, end_wall: float,
                limit: int = 2000) -> list[dict[str, Any]]:
    """Events starting in [start_wall, end_wall), newest first."""
    sql = f"SELECT {_LIST_COLUMNS} FROM events WHERE start_wall >= ? AND start_wall < ?"
    args: list[Any] = [start_wall, end_wall]
    if camera is not None:
        sql += " AND camera = ?"
        args.append(camera)
    sql += " ORDER BY start_wall DESC, id DESC LIMIT ?"
    args.append(limit)
    return [_row(r) for r in conn.execute(sql, args).fetchall()]


def get_event(conn: sqlite3.Connection, event_id: int) -> dict[str, Any] | None:
    r = conn.execute(f"SELECT {_LIST_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone()
    return _row(r) if r else None


def get_thumbnail(conn: sqlite3.Connection, event_id: int) -> bytes | None:
    r = conn.execute("SELECT COALESCE((SELECT jpeg FROM thumbnails WHERE event_id = :id), "
                     "(SELECT thumbnail FROM events WHERE id = :id))", {"id": event_id}).fetchone()
    return bytes(r[0]) if r and r[0] is not None else None


EventSegments = tuple[int, list[str] | None, float | None]   # id, segments (None: not known yet), end


def segments_after(conn: sqlite3.Connection, after_id: int, limit: int) -> list[EventSegments]:
    """Up to ``limit`` events after ``after_id`` in id order: the id, the covering segments (None
    until the motion process resolved them) and the end (None while open)."""
    rows = conn.execute("SELECT id, segments, end_wall FROM events WHERE id > ? ORDER BY id LIMIT ?",
                        (after_id, limit)).fetchall()
    return [(i, None if segs is None else [str(f) for f in json.loads(segs)], end) for i, segs, end in rows]


def event_files(conn: sqlite3.Connection) -> set[str]:
    """Every segment (path relative to the recorder root) that holds an event."""
    return {r[0] for r in conn.execute("SELECT file FROM event_segments")}


def mark_deleted(conn: sqlite3.Connection, file: str) -> int:
    """The segment ``file`` was deleted: its events get the "video deleted" mark."""
    cur = conn.execute("UPDATE events SET video_deleted = 1 WHERE id IN "
                       "(SELECT event_id FROM event_segments WHERE file = ?)", (file,))
    return cur.rowcount
