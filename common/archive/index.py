"""The archive index: which finished segments exist, the one list every reader of the recordings queries.

One row per finished segment in ``<recordings root>/recordings.sqlite``, on the recordings disk
itself, so the index goes wherever the files go (another disk mounted there brings its own):
camera, start (epoch seconds of the first frame, from the recorder's capture clock, so the hour
repeated when the clocks go back is neither a gap nor an overlap), duration, size, the file
(``cam{N}/YYMMDD/<name>``, names in local time as :mod:`common.archive.segment_name` says) and the
file's modification time, the order segments were written in.  Triggers keep a summary per camera
and day (segments, bytes).  Whether a segment holds a motion event is read from the events
database (:mod:`common.archive.events`, the motion process's) at query time, never copied.

Who writes:

* each recorder adds a row when it has finished a segment (from a thread of its own,
  :mod:`recorder.segments.indexer`, so the frame loop never waits for the database);
* retention removes the row with the file;
* :meth:`ArchiveIndex.refresh` makes the table agree with the disk: files added or removed behind
  its back, a crash between the rename and the row.  Creating, renaming or deleting a file changes
  its folder's modification time, so a refresh stats the day folders and lists only those that
  changed (a few dozen stats when nothing did).  Every reader refreshes before it reads (an API
  request, a retention pass, motion's look-up); each recorder refreshes its camera in full at start.
  A listing writes only what changed: rows, with the folder's mark; a mark alone at most every
  ``MARK_NS`` (each process remembers what it listed meanwhile), so today's folder, changed at
  every segment whose row its recorder has added already, costs the storage nothing.
  A file found without a row gets its start from its name and its duration from the file the
  first time a reader needs it.

The database holds nothing the files cannot tell again: one that is damaged, of another schema
version (``user_version``) or not ours (``application_id``) is started afresh, with a log line, and
filled again from the files; the caller never sees an error.  A version whose schema the current
one only adds to (``UPGRADES_FROM``) is brought up to date in place instead, keeping its rows.
Damaged or outdated files are reset in place (SQLite's backup of an empty schema over them), so a
connection another process still holds sees the new contents; a foreign file is moved aside.

Retention asks its questions here too (each camera's continuous window, the oldest segment
outside it, the bytes of the event segments, what the recorders wrote since a moment): each is
answered from an index or from the events database's own list, never by reading every row.

Never a stall: in WAL mode readers read while a writer writes.  Every connection waits at most
``busy_ms`` for a lock; a write that finds the database busy is skipped and done again by the next
refresh, and an events database that cannot be read within the wait (a writer holding it in
exclusive mode, a damaged file) gives "unknown" flags for ``EVENTS_RETRY_S``.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from common.archive import events as event_store
from common.archive import pending, segment_name
from common.archive.mp4_duration import mp4_duration
from common.state.jsonfile import FileLock

log = logging.getLogger("archive")
T = TypeVar("T")

DB_NAME = "recordings.sqlite"
APPLICATION_ID = 0x53485449     # "SHTI" in the file's header: this file is an archive index
SCHEMA_VERSION = 3
UPGRADES_FROM = (1, 2)          # versions the schema script brings up to date (it only adds to them)
BUSY_MS = 100                   # the longest any query waits for a lock
RACY_NS = 3_000_000_000         # a folder changed this recently may change again unseen (mtime resolution)
# A listed folder's mark in the database is written again at most this often while only its
# mtime moved (today's folders change every segment); between, each process remembers its own.
MARK_NS = 600_000_000_000
PAGE = 512                      # rows per query when walking the whole archive
UNREADABLE = -1.0               # the duration column of a file that has no readable duration
LONGEST_S = 7200.0              # no segment is longer (segment_seconds is at most an hour)
EVENTS_RETRY_S = 10.0           # after the events database failed a read, flags stay unknown this long
CACHE_KB = 1024                 # page cache per connection (the streamer has one per worker thread)
# Pages of 1 KB: a segment's row dirties about eight pages (the row, its indexes, the day's
# summary), each copied whole into the WAL, so a small page quarters what a segment costs the
# storage (4 KB pages: about 120 MB a day for each camera).  A file made with another page size
# keeps it (SQLite cannot change it under other processes' connections in WAL mode).
PAGE_BYTES = 1024
WAL_BYTES = 1 << 20             # the WAL is checkpointed at about this size, and kept at it
UNLISTED_MAX = 256              # unlistable folders remembered, so each is logged once

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS recordings (
    file TEXT NOT NULL UNIQUE,      -- cam{{N}}/YYMMDD/<name>, relative to the recordings root
    camera INTEGER NOT NULL,
    day TEXT NOT NULL,              -- the day folder
    start REAL NOT NULL,            -- epoch seconds of the first frame
    duration REAL,                  -- seconds; NULL: not measured yet; {UNREADABLE}: the file tells none
    size INTEGER NOT NULL,          -- bytes
    written_ns INTEGER NOT NULL,    -- the file's modification time: write order
    collision INTEGER NOT NULL      -- the name's _K suffix (0: none)
);
CREATE INDEX IF NOT EXISTS recordings_by_write ON recordings (written_ns, start, collision, camera);
CREATE INDEX IF NOT EXISTS recordings_by_day ON recordings (camera, day, start, collision);
CREATE INDEX IF NOT EXISTS recordings_by_start ON recordings (camera, start);
-- one camera in write order, with what retention adds up (recorded time, bytes) in the index itself
CREATE INDEX IF NOT EXISTS recordings_by_camera_write ON recordings (camera, written_ns, duration, size);
CREATE TABLE IF NOT EXISTS days (
    camera INTEGER NOT NULL,
    day TEXT NOT NULL,
    segments INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (camera, day)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS recordings_added AFTER INSERT ON recordings BEGIN
    INSERT INTO days (camera, day, segments, bytes) VALUES (NEW.camera, NEW.day, 1, NEW.size)
        ON CONFLICT (camera, day) DO UPDATE SET segments = segments + 1, bytes = bytes + NEW.size;
END;
CREATE TRIGGER IF NOT EXISTS recordings_removed AFTER DELETE ON recordings BEGIN
    UPDATE days SET segments = segments - 1, bytes = bytes - OLD.size WHERE camera = OLD.camera AND day = OLD.day;
    DELETE FROM days WHERE camera = OLD.camera AND day = OLD.day AND segments <= 0;
END;
CREATE TRIGGER IF NOT EXISTS recordings_resized AFTER UPDATE OF size ON recordings BEGIN
    UPDATE days SET bytes = bytes + NEW.size - OLD.size WHERE camera = NEW.camera AND day = NEW.day;
END;
-- each camera's newest segment that went (deleted, or found gone): everything written after it is there
CREATE TABLE IF NOT EXISTS gone (
    camera INTEGER PRIMARY KEY,
    written_ns INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS recordings_gone AFTER DELETE ON recordings BEGIN
    INSERT INTO gone (camera, written_ns) VALUES (OLD.camera, OLD.written_ns)
        ON CONFLICT (camera) DO UPDATE SET written_ns = max(written_ns, excluded.written_ns);
END;
CREATE TABLE IF NOT EXISTS folders (
    path TEXT PRIMARY KEY,          -- cam{{N}}/YYMMDD
    mtime_ns INTEGER NOT NULL       -- when last listed; -1: list it again at the next refresh
) WITHOUT ROWID;
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {SCHEMA_VERSION};
"""

_COLUMNS = "r.file, r.camera, r.start, r.duration, r.size, r.written_ns"
# A segment's recorded seconds: a duration not measured yet counts as a nominal segment, an unreadable one as none.
_RECORDED = "(CASE WHEN r.duration IS NULL THEN :nominal WHEN r.duration < 0 THEN 0 ELSE r.duration END)"
_HELD = "EXISTS (SELECT 1 FROM ev.event_segments e WHERE e.file = r.file)"
_WRITE_ORDER = "r.written_ns, r.start, r.collision, r.camera, r.rowid"
_DAY_ORDER = "r.start, r.collision, r.file"


WriteKey = tuple[int, float, int, int, int]   # place in write order: written_ns, start, collision, camera, rowid
FIRST_KEY: WriteKey = (-(2**63), float("-inf"), -1, -1, -1)   # before every row
NEVER_NS = 2**63 - 1                                          # written after every row


@dataclass(frozen=True)
class Window:
    """The newest ``keep_s`` of one camera's recorded time, counted back from its newest
    segment in write order: its segments written at or after ``since_ns``."""

    camera: int
    since_ns: int
    recorded_s: float      # recorded seconds inside


@dataclass(frozen=True)
class Continuous:
    """A camera's continuous recorded seconds as the database held them: those of its rows
    written after ``gone_ns`` (its newest segment that went) up to ``until_ns`` (its newest)."""

    gone_ns: int
    until_ns: int
    rows: int          # the camera's rows
    seconds: float


@dataclass(frozen=True)
class Skip:
    """What retention's queries leave out: camera folders, day folders (``cam{N}/YYMMDD``) and
    files it found it must not or cannot delete."""

    cameras: frozenset[int] = frozenset()
    folders: frozenset[str] = frozenset()
    files: frozenset[str] = frozenset()

    def keeps(self, rec: Recording) -> bool:
        """Is ``rec`` not left out?"""
        return (rec.camera not in self.cameras and f"cam{rec.camera}/{rec.day}" not in self.folders
                and rec.file not in self.files)

    def sql(self) -> tuple[str, dict[str, Any]]:
        """A condition on ``r`` (starting with AND, empty when nothing is left out) and its arguments."""
        parts, args = [], {}
        for name, values, expr in (("skip_cameras", self.cameras, "r.camera"),
                                   ("skip_folders", self.folders, "('cam' || r.camera || '/' || r.day)"),
                                   ("skip_files", self.files, "r.file")):
            if values:
                parts.append(f" AND {expr} NOT IN (SELECT value FROM json_each(:{name}))")
                args[name] = json.dumps(sorted(values))
        return "".join(parts), args


def _outside(windows: Iterable[Window]) -> tuple[str, dict[str, Any]]:
    """The condition "``r`` is older than its camera's window" and its arguments; a camera
    without a window (none was asked for it) is inside.  A filter only (``+``: no index is
    searched for it), so that a walk in write order stays one."""
    terms, args = [], {}
    for i, w in enumerate(windows):
        terms.append(f"(+r.camera = :wc{i} AND +r.written_ns < :ws{i})")
        args[f"wc{i}"], args[f"ws{i}"] = w.camera, w.since_ns
    return "(" + (" OR ".join(terms) or "0") + ")", args


def _left(before: Iterable[Window], now: Iterable[Window]) -> tuple[str, dict[str, Any]]:
    """The condition "``r`` was inside its camera's window ``before`` and is outside it ``now``"
    (a range of each camera in write order, searched in the index) and its arguments."""
    since = {w.camera: w.since_ns for w in before}
    terms, args = [], {}
    for i, w in enumerate(now):
        start = since.get(w.camera, FIRST_KEY[0])
        if start < w.since_ns:
            terms.append(f"(r.camera = :lc{i} AND r.written_ns >= :lf{i} AND r.written_ns < :lt{i})")
            args[f"lc{i}"], args[f"lf{i}"], args[f"lt{i}"] = w.camera, start, w.since_ns
    return "(" + (" OR ".join(terms) or "0") + ")", args


@dataclass(frozen=True)
class Recording:
    """One finished segment."""

    file: str                   # cam{N}/YYMMDD/<name>, relative to the recordings root
    camera: int
    start: float                # epoch seconds of the first frame
    duration: float | None      # seconds; None when not known (unreadable, or not measured by this query)
    size: int                   # bytes
    written: float              # epoch seconds of the file's last modification: its place in write order
    event: bool | None = None   # holds a motion event; None when the events database could not be read

    @property
    def name(self) -> str:
        return self.file.rsplit("/", 1)[-1]

    @property
    def day(self) -> str:
        return self.file.split("/")[1]


def start_from_name(name: segment_name.SegmentName, written: float, duration: float | None = None) -> float:
    """Epoch seconds of a segment's start told by its name (local time, to the second).

    In the hour repeated when the clocks go back a name fits two instants: the one after which
    the recording ends nearer the file's last modification wins.
    """
    first = name.start.replace(fold=0).timestamp()
    second = name.start.replace(fold=1).timestamp()
    ended = written - (duration or 0.0)
    return first if abs(first - ended) <= abs(second - ended) else second


def duration_of(path: Path) -> float:
    """Seconds of video in a segment file, or UNREADABLE."""
    try:
        found = mp4_duration(path)
    except (OSError, ValueError, IndexError, OverflowError, struct.error):
        found = None
    return UNREADABLE if found is None else found


def _damage(exc: sqlite3.Error) -> bool:
    """Does the error say the file is damaged (not a bug, not a lock)?"""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _recorded(rec: Recording, nominal_s: float) -> float:
    """A row's recorded seconds, as ``_RECORDED`` counts them."""
    return nominal_s if rec.duration is None else max(rec.duration, 0.0)


def _collision(file: str) -> int:
    parsed = segment_name.parse_rel_path(file)
    return 0 if isinstance(parsed, str) else parsed.collision


def _day_order(rec: Recording) -> tuple[float, int, str]:
    """A segment's place in a day's list (``_DAY_ORDER``)."""
    return rec.start, _collision(rec.file), rec.file


def _write_key(rec: Recording) -> WriteKey:
    """The place in write order of a row not added yet (``_WRITE_ORDER``; before any rowid)."""
    return round(rec.written * 1e9), rec.start, _collision(rec.file), rec.camera, -1


def _record(row: tuple[Any, ...]) -> Recording:
    file, camera, start, duration, size, written_ns, held = row[:7]
    return Recording(file, camera, start, None if duration is None or duration < 0 else duration, size,
                     written_ns / 1e9, None if held is None else bool(held))


def _day_folders(camera_dir: str) -> list[tuple[str, int]]:
    """(name, modification time) of the day folders in a camera's folder."""
    found: list[tuple[str, int]] = []
    try:
        entries = list(os.scandir(camera_dir))
    except OSError:
        return found
    for entry in entries:
        try:
            if entry.is_dir() and segment_name.is_day(entry.name):
                found.append((entry.name, entry.stat().st_mtime_ns))
        except OSError:
            continue   # removed meanwhile
    return found


def inside_root(root: Path, path: str) -> bool:
    """Does ``path``, symlinks resolved, stay inside ``root``?"""
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


class ArchiveIndex:
    """The index of the recordings under ``root``; one per process and role, any thread.

    ``busy_ms``: how long a query may wait for a lock (a recorder's frame loop passes less).
    Nothing is created until the first query, and nothing at all while ``root`` does not exist.
    """

    def __init__(self, root: Path, busy_ms: int = BUSY_MS) -> None:
        self.root = Path(root)
        self.path = self.root / DB_NAME
        self.events_path = event_store.db_path(self.root)
        self.busy_ms = busy_ms
        self._local = threading.local()           # each thread its own connection
        self._refreshing = threading.Lock()
        self._reset_lock = FileLock(self.root / f".{DB_NAME}.lock")
        self._events_down_until = 0.0
        self._said = ""
        self._unlisted: OrderedDict[str, None] = OrderedDict()   # folders that could not be listed (said once)
        # folder -> (mtime this process listed it at, the database's mark just after, the files it
        # left to the recorder that showed them in memory): one per day folder on disk
        self._marks: dict[str, tuple[int, int | None, frozenset[str]]] = {}

    # -- connections and rebuilds --------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        # URI form so that the events database can be attached read-only (mode=ro).
        conn = sqlite3.connect(f"file:{quote(str(self.path))}", uri=True, timeout=self.busy_ms / 1000,
                               isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_ms)}")
        return conn

    def _verdict(self, conn: sqlite3.Connection) -> tuple[str, bool]:
        """("", _) when the file is an index of this schema (a new empty file gets the schema),
        else (why not, whether it is someone else's file)."""
        try:
            conn.execute("BEGIN")   # one snapshot: another process may be creating the schema
            try:
                app = conn.execute("PRAGMA application_id").fetchone()[0]
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            finally:
                conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if not _damage(exc):
                raise   # locked or unreadable: not a verdict on the file
            return f"is damaged ({exc})", False
        if app == APPLICATION_ID and version == SCHEMA_VERSION:
            return "", False
        if app == 0 and tables == 0:
            self._create(conn)
            log.info("archive index %s is new: it is built from the files", self.path)
            return "", False
        if app == APPLICATION_ID and version in UPGRADES_FROM:
            self._create(conn)
            log.info("archive index %s: schema version %d brought up to %d", self.path, version, SCHEMA_VERSION)
            return "", False
        if app == APPLICATION_ID:
            return f"has schema version {version}, this program uses {SCHEMA_VERSION}", False
        return f"is not an archive index (application id {app:#x}, {tables} schema entries)", True

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA page_size = {PAGE_BYTES}")   # (only a file without pages yet takes it)
        conn.execute("PRAGMA journal_mode = WAL")
        try:
            # One transaction, IF NOT EXISTS: two processes may both get here.
            conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _open(self) -> sqlite3.Connection:
        seen_ns = time.time_ns()
        conn = self._connect()
        try:
            why, foreign = self._verdict(conn)
            if why:
                conn.close()
                self._start_afresh(why, foreign, seen_ns, recheck=True)
                conn = self._connect()
                why, _ = self._verdict(conn)
                if why:
                    raise sqlite3.OperationalError(f"{self.path} {why} after it was started afresh")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")      # WAL: a power cut loses the last rows, never the file
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA wal_autocheckpoint = {max(1, WAL_BYTES // page)}")
            conn.execute(f"PRAGMA journal_size_limit = {WAL_BYTES}")
            conn.execute(f"PRAGMA cache_size = -{CACHE_KB}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _conn(self) -> sqlite3.Connection | None:
        """This thread's connection (None while the recordings root does not exist); opened again
        when the file was replaced behind it."""
        try:
            ino: int | None = os.stat(self.path).st_ino
        except FileNotFoundError:
            ino = None
        held = getattr(self._local, "conn", None)
        if held is not None and ino is not None and held[1] == ino:
            conn: sqlite3.Connection = held[0]
            return conn
        self.close()
        if not self.root.is_dir():
            return None
        conn = self._open()
        self._local.conn = (conn, os.stat(self.path).st_ino)
        return conn

    def _start_afresh(self, why: str, foreign: bool, seen_ns: int, recheck: bool) -> None:
        """Replace an unusable database (found so at ``seen_ns``) with an empty one; one process
        at a time, and not again when another did it since.  ``recheck``: the trouble was
        seen in the file's header, so look again once the lock is held."""
        existed = self._reset_lock.path.exists()   # (taking the lock creates it)
        with self._reset_lock.held():
            if existed and os.stat(self._reset_lock.path).st_mtime_ns > seen_ns:
                return   # started afresh by another process after this one found the trouble
            if recheck:
                check = self._connect()
                try:
                    why, foreign = self._verdict(check)
                finally:
                    check.close()
                if not why:
                    return
            if foreign:
                aside = self.path.with_name(f"{DB_NAME}.foreign-{int(time.time())}")
                for suffix in ("", "-wal", "-shm"):
                    try:
                        os.rename(f"{self.path}{suffix}", f"{aside}{suffix}")
                    except FileNotFoundError:
                        pass
                log.error("archive index %s %s: moved to %s; a new index is built from the files",
                          self.path, why, aside.name)
            else:
                self._reset_in_place()
                log.error("archive index %s %s: started afresh; it is built again from the files", self.path, why)
            os.utime(self._reset_lock.path)   # the mark other processes compare with

    def _reset_in_place(self) -> None:
        empty = sqlite3.connect(":memory:")
        try:
            target = self._connect()
            try:
                # A backup into a WAL file cannot change its page size: the empty copy takes the file's.
                try:
                    page = target.execute("PRAGMA page_size").fetchone()[0]
                except sqlite3.DatabaseError:
                    page = PAGE_BYTES   # not a database: truncated below
                empty.execute(f"PRAGMA page_size = {page}")
                empty.executescript(_SCHEMA)
                empty.backup(target)   # same file, same inode: other processes' connections see it
            except sqlite3.DatabaseError as exc:
                if not _damage(exc):
                    raise   # locked: the next use tries again
                # Not a database at all: nothing can have it open as one.
                with open(self.path, "r+b") as fh:
                    fh.truncate(0)
                for suffix in ("-wal", "-shm"):
                    try:
                        os.unlink(f"{self.path}{suffix}")
                    except FileNotFoundError:
                        pass
            finally:
                target.close()
        finally:
            empty.close()

    def _use(self, work: Callable[[sqlite3.Connection], T], default: T) -> T:
        """``work`` on this thread's connection; ``default`` when the index cannot be used now
        (no root, locked, disk full, read-only, I/O error: logged once); a damaged file is
        started afresh."""
        for attempt in (0, 1):
            seen_ns = time.time_ns()
            try:
                conn = self._conn()
                if conn is None:
                    return default
                return work(conn)
            except (sqlite3.OperationalError, OSError) as exc:
                self._trouble(f"archive index {self.path}: {exc}")
                return default
            except sqlite3.DatabaseError as exc:
                self.close()
                if attempt or not _damage(exc):
                    self._trouble(f"archive index {self.path}: {exc}")
                    return default
                try:
                    self._start_afresh(f"is damaged ({exc})", False, seen_ns, recheck=False)
                except (OSError, sqlite3.Error) as again:
                    self._trouble(f"archive index {self.path}: cannot start afresh: {again}")
                    return default
        return default

    def _trouble(self, msg: str) -> None:
        if msg != self._said:   # once per distinct trouble, not at every query
            self._said = msg
            log.warning("%s", msg)

    def _write(self, conn: sqlite3.Connection, work: Callable[[], object]) -> bool:
        """``work`` in one write transaction; False (nothing written) when the database stayed busy."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._trouble(f"archive index {self.path}: {exc}; the change is made at a later refresh")
            return False
        try:
            work()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return True

    def open(self) -> bool:
        """Open this thread's connection now rather than at the first query, so a program that
        runs for months holds the same files from its start; False while the index cannot be used."""
        return self._use(lambda conn: True, False)

    def close(self) -> None:
        """Close this thread's connection."""
        held = getattr(self._local, "conn", None)
        self._local.conn = None
        if held is not None:
            held[0].close()

    # -- writes --------------------------------------------------------------------------------
    def add(self, recordings: Iterable[Recording]) -> bool:
        """Rows for finished segments (a segment's own recorder knows best: an existing row is
        replaced); False when nothing could be written now (busy, disk full)."""
        rows = []
        for rec in recordings:
            parsed = segment_name.parse_rel_path(rec.file)
            if isinstance(parsed, str):
                log.warning("archive index: %s is not a segment's path (%s); not added", rec.file, parsed)
                continue
            rows.append((rec.file, parsed.camera, rec.day, rec.start, rec.duration, rec.size,
                         round(rec.written * 1e9), parsed.collision))
        if not rows:
            return True

        def write(conn: sqlite3.Connection) -> bool:
            return self._write(conn, lambda: conn.executemany(
                "INSERT INTO recordings (file, camera, day, start, duration, size, written_ns, collision) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file) DO UPDATE SET start = excluded.start, "
                "duration = excluded.duration, size = excluded.size, written_ns = excluded.written_ns", rows))
        return self._use(write, False)

    def add_waiting(self, windows: Iterable[Window]) -> int:
        """Add the rows waiting in memory (:mod:`common.archive.pending`) that are older than
        their camera's window, so retention chooses among every candidate: with a window shorter
        than a batch, a refresh may list a newer segment while older rows still wait.  Only rows
        whose files are there; their recorder adding them again later changes nothing.  Returns
        how many were added."""
        since = {w.camera: w.since_ns for w in windows}
        due = [rec for rec in self._shown(None)
               if round(rec.written * 1e9) < since.get(rec.camera, NEVER_NS) and (self.root / rec.file).exists()]
        return len(due) if due and self.add(due) else 0

    def remove(self, *files: str) -> bool:
        """The segments ``files`` were deleted: their rows go, in one transaction (consecutive
        rows share their pages: a few removed together cost about what one does); False when
        the rows stay for now (their folders' next refresh removes them)."""
        return self._use(lambda conn: self._write(
            conn, lambda: conn.executemany("DELETE FROM recordings WHERE file = ?", [(f,) for f in files])), False)

    # -- reconciling with the disk -------------------------------------------------------------
    def refresh(self, camera: int | None = None, full: bool = False) -> None:
        """Make the index agree with the files: list again every day folder that changed since it
        was last listed (``full``: every folder, of ``camera`` or all)."""
        with self._refreshing:
            self._use(lambda conn: self._reconcile(conn, camera, full), None)

    def _reconcile(self, conn: sqlite3.Connection, camera: int | None, full: bool) -> None:
        mine = (lambda cam: True) if camera is None else (lambda cam: cam == camera)
        if full:
            pattern = "%" if camera is None else f"{segment_name.camera_folder(camera)}/%"
            self._write(conn, lambda: conn.execute("UPDATE folders SET mtime_ns = -1 WHERE path LIKE ?", (pattern,)))
        listed = dict(conn.execute("SELECT path, mtime_ns FROM folders").fetchall())
        waiting = {row[0] for row in pending.read(self.root)}   # a live recorder adds their rows itself
        known = {(cam, day) for cam, day in conn.execute("SELECT camera, day FROM days")}
        known |= {(segment_name.camera_of_folder(p.split("/")[0]), p.split("/")[1]) for p in listed}
        on_disk: set[tuple[int, str]] = set()
        try:
            cams = [(e.path, segment_name.camera_of_folder(e.name)) for e in os.scandir(self.root) if e.is_dir()]
        except OSError:
            cams = []
        for cam_path, cam in cams:
            if cam is None or not mine(cam):
                continue
            for day, mtime in _day_folders(cam_path):
                on_disk.add((cam, day))
                rel = f"{segment_name.camera_folder(cam)}/{day}"
                stored = listed.get(rel)
                # Listed already when the database's mark says so, or this process listed it at
                # this mtime and the mark has not moved since (a rebuild or a full refresh moves it),
                # and the files it left to their recorder are still that recorder's to add.
                mark = self._marks.get(rel)
                if stored != mtime and (mark is None or mark[:2] != (mtime, stored) or not mark[2] <= waiting):
                    self._list_folder(conn, cam, day, stored, waiting)
        for cam, day in known - on_disk:
            if cam is not None and mine(cam):
                self._list_folder(conn, cam, day, listed.get(f"{segment_name.camera_folder(cam)}/{day}"), waiting)
        for rel in list(self._marks):
            cam = segment_name.camera_of_folder(rel.split("/")[0])
            if cam is not None and mine(cam) and (cam, rel.split("/")[1]) not in on_disk:
                del self._marks[rel]   # gone: only folders on disk are remembered

    def _list_folder(self, conn: sqlite3.Connection, camera: int, day: str, stored: int | None,
                     waiting: set[str]) -> None:
        """Rows for the files of one day folder, none for files gone; ``stored``: the folder's
        mark in the database; ``waiting``: files whose rows a live recorder adds itself.  Writes
        only what changed: the mark goes with changed rows, when there is none, and otherwise at
        most every ``MARK_NS`` (this process remembers it); never while files were left to their
        recorder (another process lists the folder again should that recorder die)."""
        rel = f"{segment_name.camera_folder(camera)}/{day}"
        folder = self.root / rel
        try:
            mtime = os.stat(folder).st_mtime_ns   # before listing: a change while listing shows next time
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            mtime, entries = None, []
        except OSError as exc:
            # Not listable (a folder a `sudo` run made root's): its files are still there, so its
            # rows stay (retention and health go on seeing them); said once, tried at each refresh.
            why = (f"archive index: cannot list {rel} ({exc.strerror or exc}); the segments it held stay "
                   "as last listed, any new ones are left out")
            if why not in self._unlisted:
                log.warning("%s", why)
                self._unlisted[why] = None
                while len(self._unlisted) > UNLISTED_MAX:
                    self._unlisted.popitem(last=False)
            self._write(conn, lambda: conn.execute("DELETE FROM folders WHERE path = ?", (rel,)))
            return
        rows = {f for (f,) in conn.execute("SELECT file FROM recordings WHERE camera = ? AND day = ?", (camera, day))}
        present, new, left = set(), [], set()
        for entry in entries:
            file = f"{rel}/{entry.name}"
            if file in rows:
                present.add(file)   # known: its name was checked when its row was made
                continue
            if file in waiting:
                left.add(file)
                continue
            name = segment_name.parse(entry.name)
            if name is None or name.camera != camera:
                continue
            try:
                if not entry.is_file() or (entry.is_symlink() and not inside_root(self.root, entry.path)):
                    continue
                st = entry.stat()
            except OSError:
                continue   # deleted meanwhile
            new.append((file, camera, day, start_from_name(name, st.st_mtime), st.st_size, st.st_mtime_ns,
                        name.collision))
        gone = [(f,) for f in rows - present]
        self._marks.pop(rel, None)
        settled = False
        if mtime is None:
            mark, stale = None, stored is not None
        else:
            # A folder changed within RACY_NS may change again unseen: no mark, listed again next time.
            settled = abs(time.time_ns() - mtime) >= RACY_NS
            stale = settled and not left and (bool(new or gone) or stored is None or stored < 0
                                              or abs(mtime - stored) >= MARK_NS)
            mark = mtime if stale else stored

        def apply() -> None:
            conn.executemany("INSERT OR IGNORE INTO recordings (file, camera, day, start, size, written_ns, collision) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", new)
            conn.executemany("DELETE FROM recordings WHERE file = ?", gone)
            if stale and mark is None:
                conn.execute("DELETE FROM folders WHERE path = ?", (rel,))
            elif stale:
                conn.execute("INSERT INTO folders (path, mtime_ns) VALUES (?, ?) ON CONFLICT (path) DO UPDATE "
                             "SET mtime_ns = excluded.mtime_ns", (rel, mark))
        if (new or gone or stale) and not self._write(conn, apply):
            return   # busy: listed again at the next refresh
        if settled and mtime is not None:
            self._marks[rel] = (mtime, mark, frozenset(left))

    # -- reads ---------------------------------------------------------------------------------
    @contextmanager
    def holding_events(self) -> Iterator[None]:
        """Keep the events database attached for the block, on this thread's connection: a
        retention step asks it a few questions per file, and each ATTACH costs more than one."""
        self._local.hold = True
        try:
            yield
        finally:
            self._local.hold = False
            conn, self._local.ev_conn = getattr(self._local, "ev_conn", None), None
            if conn is not None:
                self._detach(conn)

    @staticmethod
    def _detach(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("DETACH DATABASE ev")
        except sqlite3.Error:
            pass   # (a closed connection: nothing is attached)

    @contextmanager
    def _events(self, conn: sqlite3.Connection) -> Iterator[bool]:
        """The events database attached read-only as ``ev`` for the block; False when it cannot be."""
        up = time.monotonic() >= self._events_down_until
        if getattr(self._local, "ev_conn", None) is conn:
            yield up   # attached already, held for a retention step
            return
        attached = False
        if up and self.events_path.is_file():
            try:
                conn.execute("ATTACH DATABASE ? AS ev", (f"file:{quote(str(self.events_path))}?mode=ro",))
                attached = True
            except sqlite3.Error as exc:
                self._events_down(exc)
        held = attached and getattr(self._local, "hold", False)
        if held:
            self._local.ev_conn = conn
        try:
            yield attached
        finally:
            if attached and not held:
                self._detach(conn)

    def _events_down(self, exc: Exception) -> None:
        self._events_down_until = time.monotonic() + EVENTS_RETRY_S
        self._trouble(f"events database {self.events_path}: {exc}; which segments hold an event is unknown for now")

    def _rows(self, conn: sqlite3.Connection, sql: str, args: tuple[Any, ...] | dict[str, Any],
              held: bool | None = None) -> list[tuple[Any, ...]]:
        """Rows of ``sql``, its ``{flag}`` the event flag (NULL when the events database cannot be
        read at once) and ``{only}`` a filter on it: ``held`` True keeps the segments known to hold
        an event, False the others (all of them when no flag is known)."""
        with self._events(conn) as attached:
            if attached:
                only = "" if held is None else f" AND {'' if held else 'NOT '}{_HELD}"
                try:
                    return conn.execute(sql.format(flag=_HELD, only=only), args).fetchall()
                except sqlite3.DatabaseError as exc:
                    self._events_down(exc)
        return [] if held else conn.execute(sql.format(flag="NULL", only=""), args).fetchall()

    def _measured(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[Recording]:
        """Records of ``rows``; durations not measured yet are read from the files and kept."""
        found = []
        for i, row in enumerate(rows):
            if row[3] is None:
                duration = duration_of(self.root / row[0])
                rows[i] = (*row[:3], duration, *row[4:])
                found.append((duration, row[0]))
        if found:
            try:
                self._write(conn, lambda: conn.executemany("UPDATE recordings SET duration = ? WHERE file = ?", found))
            except sqlite3.OperationalError as exc:
                self._trouble(f"archive index {self.path}: durations not kept: {exc}")
        return [_record(r) for r in rows]

    # -- rows a recorder shows in memory before they are added ----------------------------------
    # Every question about what exists merges them: a segment is listed as soon as it is
    # finished (the recordings page, the timeline, export, health, motion's look-up), and
    # retention's windows, totals and rates count it.  The questions about the oldest segments
    # (which to delete, which events are outside the windows) need not: these rows are each
    # camera's newest, inside its continuous window.  A recorder adds a row before it takes
    # it out of memory, so memory is read first, then the database: a row is found in one or
    # the other, and counted once.
    def _shown(self, camera: int | None) -> list[Recording]:
        """``camera``'s (None: every camera's) rows shown in memory (:mod:`common.archive.pending`)."""
        return [Recording(file, cam, start, duration, size, written)
                for file, cam, start, duration, size, written in pending.read(self.root)
                if (camera is None or cam == camera) and not isinstance(segment_name.parse_rel_path(file), str)]

    def _counted(self, camera: int | None, count: Callable[[sqlite3.Connection, list[Recording]], T],
                 default: T) -> T:
        """``count`` of one snapshot of the database and ``camera``'s rows in memory it lacks."""
        shown = self._shown(camera)

        def ask(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN")   # (deferred: a read, one snapshot for every query in it)
            try:
                files = [rec.file for rec in shown]
                sql = f"SELECT file FROM recordings WHERE file IN ({','.join('?' * len(files))})"
                added = {f for (f,) in conn.execute(sql, files)} if files else set()
                return count(conn, [rec for rec in shown if rec.file not in added])
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        return self._use(ask, default)

    def days(self, camera: int) -> list[tuple[str, int, int]]:
        """(day folder, segments, bytes) of every day with a segment of ``camera``, oldest first."""
        def count(conn: sqlite3.Connection, waiting: list[Recording]) -> list[tuple[str, int, int]]:
            found: list[tuple[str, int, int]] = conn.execute(
                "SELECT day, segments, bytes FROM days WHERE camera = ? AND segments > 0 ORDER BY day",
                (camera,)).fetchall()
            if not waiting:
                return found
            totals = {day: (segments, size) for day, segments, size in found}
            for rec in waiting:
                segments, size = totals.get(rec.day, (0, 0))
                totals[rec.day] = (segments + 1, size + rec.size)
            return [(day, segments, size) for day, (segments, size) in sorted(totals.items())]
        return self._counted(camera, count, [])

    def _listed(self, sql: str, args: tuple[Any, ...], camera: int,
                fits: Callable[[Recording], bool]) -> list[Recording]:
        """The rows of ``sql`` (in day order, those of ``camera`` that ``fits`` keeps) with the
        ones in memory it lacks."""
        shown = [rec for rec in self._shown(camera) if fits(rec)]

        def ask(conn: sqlite3.Connection) -> list[Recording]:
            found = self._measured(conn, self._rows(conn, sql, args))
            listed = {rec.file for rec in found}
            waiting = [rec for rec in shown if rec.file not in listed]
            if not waiting:
                return found
            held = self._held(conn, [rec.file for rec in waiting])
            return sorted(found + [replace(rec, event=None if held is None else rec.file in held) for rec in waiting],
                          key=_day_order)
        return self._use(ask, [])

    def _held(self, conn: sqlite3.Connection, files: list[str]) -> set[str] | None:
        """Which of ``files`` hold a motion event (None: unknown now)."""
        with self._events(conn) as attached:
            if attached:
                try:
                    return {f for (f,) in conn.execute(
                        f"SELECT file FROM ev.event_segments WHERE file IN ({','.join('?' * len(files))})", files)}
                except sqlite3.DatabaseError as exc:
                    self._events_down(exc)
        return None

    def day(self, camera: int, day: str) -> list[Recording]:
        """The segments in one day folder of ``camera``, by start time."""
        sql = f"SELECT {_COLUMNS}, {{flag}} FROM recordings r WHERE r.camera = ? AND r.day = ? ORDER BY {_DAY_ORDER}"
        return self._listed(sql, (camera, day), camera, lambda rec: rec.day == day)

    def starting(self, camera: int, since: float, until: float = 1e300) -> list[Recording]:
        """The segments of ``camera`` that start within [since, until], by start time."""
        sql = (f"SELECT {_COLUMNS}, {{flag}} FROM recordings r WHERE r.camera = ? AND r.start >= ? AND r.start <= ? "
               f"ORDER BY {_DAY_ORDER}")
        return self._listed(sql, (camera, since, until), camera, lambda rec: since <= rec.start <= until)

    def ending_after(self, camera: int, since: float) -> list[Recording]:
        """The segments of ``camera`` that still run at or after ``since``, by start time."""
        return [r for r in self.starting(camera, since - LONGEST_S) if r.start + (r.duration or 0.0) >= since]

    def oldest_first(self, held: bool | None = None) -> Iterator[Recording]:
        """Every segment oldest first (write order, then start, then the name's suffix), read a
        page at a time; ``held``: only those that hold an event (True) or the others (False).
        Durations are as stored (None when not measured yet)."""
        sql = (f"SELECT {_COLUMNS}, {{flag}}, r.collision, r.rowid FROM recordings r "
               f"WHERE ({_WRITE_ORDER}) > (?, ?, ?, ?, ?){{only}} ORDER BY {_WRITE_ORDER} LIMIT {PAGE}")
        after: tuple[Any, ...] = (-(2**63), float("-inf"), -1, -1, -1)
        while True:
            def page(conn: sqlite3.Connection, after: tuple[Any, ...] = after) -> list[tuple[Any, ...]]:
                return self._rows(conn, sql, after, held)
            none: list[tuple[Any, ...]] = []
            rows = self._use(page, none)
            for row in rows:
                yield _record(row)
            if len(rows) < PAGE:
                return
            _, camera, start, _, _, written_ns, _, collision, rowid = rows[-1]
            after = (written_ns, start, collision, camera, rowid)

    def written_after(self, after: WriteKey, limit: int = PAGE) -> list[tuple[Recording, WriteKey]]:
        """Up to ``limit`` segments after ``after`` in write order, each with its place in it:
        what a follower of the archive (the off-site copy) has not seen yet."""
        sql = (f"SELECT {_COLUMNS}, {{flag}}, r.collision, r.rowid FROM recordings r "
               f"WHERE ({_WRITE_ORDER}) > (?, ?, ?, ?, ?) ORDER BY {_WRITE_ORDER} LIMIT {int(limit)}")
        # The rows in memory too, each at its place (before any row of the same file once added:
        # a follower may see a segment twice, never miss one); memory first, then the database.
        shown = [(rec, _write_key(rec)) for rec in self._shown(None)]

        def ask(conn: sqlite3.Connection) -> list[tuple[Recording, WriteKey]]:
            found = [(_record(r), (r[5], r[2], r[7], r[1], r[8])) for r in self._rows(conn, sql, after)]
            listed = {rec.file for rec, _ in found}
            # (a full page ends where it ends: what comes after it is the next page's)
            end = found[-1][1] if len(found) >= limit else None
            waiting = [(rec, key) for rec, key in shown
                       if rec.file not in listed and key > after and (end is None or key < end)]
            if not waiting:
                return found
            held = self._held(conn, [rec.file for rec, _ in waiting])
            waiting = [(replace(rec, event=None if held is None else rec.file in held), key) for rec, key in waiting]
            return sorted(found + waiting, key=lambda item: item[1])[:limit]
        return self._use(ask, [])

    def holds_events(self) -> bool:
        """Does any segment hold an event?  False when the events database cannot be read now."""
        def ask(conn: sqlite3.Connection) -> bool:
            with self._events(conn) as attached:
                if attached:
                    try:
                        return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM ev.event_segments)").fetchone()[0])
                    except sqlite3.DatabaseError as exc:
                        self._events_down(exc)
            return False
        return self._use(ask, False)

    def total_bytes(self, skip: Skip = Skip()) -> int:
        """Bytes of every segment but those in the camera and day folders ``skip`` leaves out."""
        where, args = Skip(skip.cameras, skip.folders).sql()   # (the days summary is by folder)
        sql = f"SELECT coalesce(sum(r.bytes), 0) FROM days r WHERE 1{where}"

        def count(conn: sqlite3.Connection, waiting: list[Recording]) -> int:
            return int(conn.execute(sql, args).fetchone()[0]) + sum(rec.size for rec in waiting if skip.keeps(rec))
        return self._counted(None, count, 0)

    def newest_written(self, camera: int) -> float:
        """Modification time of ``camera``'s newest segment (0 when none): write order goes on from it."""
        def count(conn: sqlite3.Connection, waiting: list[Recording]) -> float:
            found = conn.execute("SELECT max(written_ns) FROM recordings WHERE camera = ?", (camera,)).fetchone()[0]
            return max([0.0 if found is None else found / 1e9] + [rec.written for rec in waiting])
        return self._counted(camera, count, 0.0)

    # -- retention's questions -----------------------------------------------------------------
    # Each one is answered from an index (write order per camera, start per camera, the days
    # summary) or from the events database's own list of event segments: never by reading
    # every row.
    def windows(self, keep_s: float, nominal_s: float) -> list[Window]:
        """Each camera's window of its newest ``keep_s`` recorded seconds; ``nominal_s``: what a
        segment whose duration was not measured yet counts as."""
        args = {"keep": keep_s, "nominal": nominal_s}
        newest_first = (f"SELECT r.written_ns, sum({_RECORDED}) OVER (ORDER BY r.written_ns DESC "
                        f"ROWS UNBOUNDED PRECEDING) AS acc FROM recordings r WHERE r.camera = :camera")
        reached = f"SELECT written_ns, acc FROM ({newest_first}) WHERE acc >= :keep LIMIT 1"
        whole = f"SELECT min(r.written_ns), coalesce(sum({_RECORDED}), 0) FROM recordings r WHERE r.camera = :camera"

        def count(conn: sqlite3.Connection, shown: list[Recording]) -> list[Window]:
            waiting: dict[int, list[Recording]] = {}   # the newest of each camera: the window starts with them
            for rec in sorted(shown, key=lambda rec: rec.written, reverse=True):
                waiting.setdefault(rec.camera, []).append(rec)
            found = []
            for camera in sorted({c for (c,) in conn.execute("SELECT DISTINCT camera FROM days")} | set(waiting)):
                if keep_s <= 0:
                    found.append(Window(camera, NEVER_NS, 0.0))
                    continue
                acc, oldest = 0.0, None
                for rec in waiting.get(camera, []):
                    acc += _recorded(rec, nominal_s)
                    oldest = round(rec.written * 1e9)
                    if acc >= keep_s:
                        break
                if oldest is not None and acc >= keep_s:
                    found.append(Window(camera, oldest, acc))
                    continue
                row = conn.execute(reached, {**args, "keep": keep_s - acc, "camera": camera}).fetchone()
                if row is None:   # less than keep_s recorded: all of it
                    row = conn.execute(whole, {**args, "camera": camera}).fetchone()
                if row is not None and row[0] is not None:
                    found.append(Window(camera, row[0], row[1] + acc))
                elif oldest is not None:
                    found.append(Window(camera, oldest, acc))
            return found
        return self._counted(None, count, [])

    def oldest(self, held: bool | None = None, outside: Iterable[Window] | None = None, skip: Skip = Skip(),
               after: WriteKey = FIRST_KEY) -> tuple[Recording, WriteKey] | None:
        """The oldest segment after ``after`` in write order, with its key: of those that hold an
        event (``held`` True) or not (False), older than their camera's window (``outside``:
        the windows; None: anywhere), not left out by ``skip``."""
        found = self.oldest_few(1, held, outside, skip, after)
        return found[0] if found else None

    def oldest_few(self, limit: int, held: bool | None = None, outside: Iterable[Window] | None = None,
                   skip: Skip = Skip(), after: WriteKey = FIRST_KEY) -> list[tuple[Recording, WriteKey]]:
        """The ``limit`` oldest such segments (see :meth:`oldest`), in write order: a retention
        step asks once for the few it may delete, not once per file."""
        windows = list(outside) if outside is not None else None
        where, args = _outside(windows) if windows is not None else ("1", {})
        skipped, more = skip.sql()
        # In write order, stopping at the first that fit (not every row outside the windows,
        # sorted), and at the newest window's start: a row written after it is inside its own
        # camera's window, so fewer than ``limit`` found never walks every row of the windows.
        until = max((w.since_ns for w in windows), default=FIRST_KEY[0]) if windows is not None else NEVER_NS
        sql = (f"SELECT {_COLUMNS}, {{flag}}, r.collision, r.rowid FROM recordings r INDEXED BY recordings_by_write "
               f"WHERE ({_WRITE_ORDER}) > (:a0, :a1, :a2, :a3, :a4) AND r.written_ns < :until "
               f"AND {where}{skipped}{{only}} ORDER BY {_WRITE_ORDER} LIMIT :limit")
        args.update(more, a0=after[0], a1=after[1], a2=after[2], a3=after[3], a4=after[4], until=until, limit=limit)

        def ask(conn: sqlite3.Connection) -> list[tuple[Recording, WriteKey]]:
            rows = self._rows(conn, sql, args, held)
            return [(_record(row), (row[5], row[2], row[7], row[1], row[8])) for row in rows]
        return self._use(ask, [])

    def event_bytes(self, outside: Iterable[Window], skip: Skip = Skip(), since: Iterable[Window] | None = None
                    ) -> tuple[int, int] | None:
        """(count, bytes) of the segments that hold an event and are older than their camera's
        window (``outside``); ``since``: only those that were inside these earlier windows (the
        few that left them since).  None when the events database cannot be read now."""
        skipped, args = skip.sql()
        if since is None:
            # Led by the events database's list of event segments: as many look-ups as events.
            where, more = _outside(outside)
            sql = (f"SELECT count(*), coalesce(sum(r.size), 0) FROM (SELECT DISTINCT file FROM ev.event_segments) e "
                   f"CROSS JOIN recordings r ON r.file = e.file WHERE {where}{skipped}")
        else:
            where, more = _left(since, outside)
            sql = f"SELECT count(*), coalesce(sum(r.size), 0) FROM recordings r WHERE {where}{skipped} AND {_HELD}"
        args.update(more)

        def ask(conn: sqlite3.Connection) -> tuple[int, int] | None:
            with self._events(conn) as attached:
                if attached:
                    try:
                        count, size = conn.execute(sql, args).fetchone()
                        return int(count), int(size)
                    except sqlite3.DatabaseError as exc:
                        self._events_down(exc)
            return None
        return self._use(ask, None)

    def any_gone(self) -> bool:
        """Whether any of our segments ever went (deleted by either recorder, or found gone)."""
        return bool(self._use(lambda conn: conn.execute("SELECT 1 FROM gone LIMIT 1").fetchone(), None))

    def continuous(self, camera: int, nominal_s: float) -> float:
        """Recorded seconds of ``camera``'s segments written after its newest one that went:
        how far back its recordings run without a segment missing."""
        sql = (f"SELECT coalesce(sum({_RECORDED}), 0) FROM recordings r WHERE r.camera = :camera "
               "AND r.written_ns > coalesce((SELECT g.written_ns FROM gone g WHERE g.camera = :camera), -1)")
        args = {"camera": camera, "nominal": nominal_s}

        def count(conn: sqlite3.Connection, waiting: list[Recording]) -> float:
            return float(conn.execute(sql, args).fetchone()[0]) + sum(_recorded(rec, nominal_s) for rec in waiting)
        return self._counted(camera, count, 0.0)

    def continuous_from(self, camera: int, nominal_s: float, last: Continuous | None,
                        went: Iterable[Recording] = ()) -> tuple[float, Continuous | None]:
        """:meth:`continuous`, and what it was counted from, from an earlier count ``last``
        (None: count it all) and the rows of the camera deleted since (``went``, as they were):
        only the rows added since and those left behind the newest that went are read, not
        the whole run (tens of thousands of rows a camera).  When the rows are not those
        ``last`` and ``went`` account for (another process deleted or found some), it is
        counted in full.  A duration measured in between is not seen: the caller counts in
        full now and then."""
        args: dict[str, Any] = {"camera": camera, "nominal": nominal_s}
        ends = ("SELECT coalesce((SELECT g.written_ns FROM gone g WHERE g.camera = :camera), -1), "
                "coalesce((SELECT max(r.written_ns) FROM recordings r WHERE r.camera = :camera), -1), "
                "coalesce((SELECT sum(d.segments) FROM days d WHERE d.camera = :camera), 0)")
        span = (f"SELECT count(*), coalesce(sum({_RECORDED}), 0) FROM recordings r WHERE r.camera = :camera "
                "AND r.written_ns > :lo AND r.written_ns <= :hi")
        went = list(went)

        def between(conn: sqlite3.Connection, lo: int, hi: int) -> tuple[int, float]:
            if hi <= lo:
                return 0, 0.0
            rows, seconds = conn.execute(span, {**args, "lo": lo, "hi": hi}).fetchone()
            return int(rows), float(seconds)

        def count(conn: sqlite3.Connection, waiting: list[Recording]) -> tuple[float, Continuous | None]:
            gone, newest, rows = conn.execute(ends, args).fetchone()
            seconds = None
            if last is not None and last.gone_ns <= gone < last.until_ns <= newest:
                added = between(conn, last.until_ns, newest)
                if rows == last.rows - len(went) + added[0]:   # (else: rows went or came unseen)
                    left = between(conn, last.gone_ns, gone)[1]   # present, but behind a newer one that went
                    lost = sum(_recorded(rec, nominal_s) for rec in went if round(rec.written * 1e9) > last.gone_ns)
                    seconds = last.seconds - lost - left + added[1]
            if seconds is None:
                seconds = between(conn, gone, newest)[1]
            return (seconds + sum(_recorded(rec, nominal_s) for rec in waiting),
                    Continuous(int(gone), int(newest), int(rows), seconds))
        unknown: tuple[float, Continuous | None] = (0.0, None)
        return self._counted(camera, count, unknown)

    def first_start_since(self, camera: int, since_ns: int) -> float | None:
        """The earliest start among ``camera``'s segments written at or after ``since_ns``: a
        segment named in the future (a clock that was wrong, then set right) is no younger
        than the segments written after it.  Walks starts in order from the earliest, so it is
        quick for the oldest segments, the ones retention asks about."""
        sql = ("SELECT r.start FROM recordings r INDEXED BY recordings_by_start WHERE r.camera = ? "
               "AND r.written_ns >= ? ORDER BY r.start LIMIT 1")
        row = self._use(lambda conn: conn.execute(sql, (camera, since_ns)).fetchone(), None)
        return None if row is None else float(row[0])

    def written_since(self, since_ns: int | None) -> tuple[int, int | None]:
        """(bytes, newest written_ns) of the segments written after ``since_ns``: what the
        recorders wrote (the index knows only our own files); since None: (0, the newest),
        and (0, None) while there is no segment."""
        sql = "SELECT coalesce(sum(size), 0), max(written_ns) FROM recordings WHERE written_ns > ?"

        def count(conn: sqlite3.Connection, waiting: list[Recording]) -> tuple[int, int | None]:
            size, newest = conn.execute(sql, (-(2**63) if since_ns is None else since_ns,)).fetchone()
            # (the rows a recorder adds later are counted now, when they are new)
            for rec in waiting:
                written_ns = round(rec.written * 1e9)
                if since_ns is None or written_ns > since_ns:
                    size += rec.size
                    newest = written_ns if newest is None else max(newest, written_ns)
            if since_ns is None:
                return 0, newest
            return int(size), since_ns if newest is None else int(newest)
        return self._counted(None, count, (0, since_ns))

    def newest_end(self) -> float | None:
        """The capture time at which the newest segment in write order ended (None: no segment)."""
        sql = ("SELECT r.start + max(coalesce(r.duration, 0), 0), r.written_ns / 1e9 FROM recordings r "
               "ORDER BY r.written_ns DESC LIMIT 1")

        def count(conn: sqlite3.Connection, waiting: list[Recording]) -> float | None:
            ends = [(rec.written, rec.start + max(rec.duration or 0.0, 0.0)) for rec in waiting]
            row = conn.execute(sql).fetchone()
            if row is not None:
                ends.append((row[1], row[0]))
            return float(max(ends)[1]) if ends else None
        return self._counted(None, count, None)
