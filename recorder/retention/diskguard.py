"""Free space and retention: recordings never fill the disk and stop.

``check()`` runs every ``recorder.check_seconds`` (and right after a write error):
* under ``disk_warn_gb`` free: a warning (log and status);
* with retention on, the oldest segments of *all* cameras are deleted first, each logged,
  while free space is under ``free_floor_gb`` (until ``free_target_gb`` is free), while
  the recordings exceed ``quota_gb`` (when set), and when older than ``max_age_days``
  (when set).

Segments that hold a motion event are deleted after the plain ones (``event_keep_days``,
see :mod:`recorder.retention.eventkeep`).

What exists comes from the archive index (:mod:`common.archive.index`, refreshed before each
pass): only finished segments, the files the streamer lists, are ever deleted, never a file
being written (hidden ``.part``) nor anything else under the root; each one's row goes with
it.  Both recorders run this; a lock (``.retention.lock`` in the root) lets one delete at a
time.

Oldest means written first: files go by modification time, which the recorder keeps in
write order even when the wall clock steps back (see :func:`keep_write_order`), then by start.
A file that cannot be deleted (permissions, a read-only remount, an immutable file) is
logged once and skipped; when retention cannot keep the floor, the state says so.
"""
from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.archive.index import ArchiveIndex, Recording
from common.state.documents import DeletedSegment
from common.state.jsonfile import FileLock
from recorder.retention.eventkeep import EventKeep

log = logging.getLogger("recorder")
GB = 1_000_000_000
HISTORY = 20   # deletions kept for the status document
UNDELETABLE_MAX = 1000   # files remembered as undeletable (logged once each)
LOCK_NAME = ".retention.lock"
INDEX_BUSY_MS = 50   # the frame loop runs retention: it never waits longer for the index or the events


def free_bytes_of(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def keep_write_order(path: Path, previous_mtime: float) -> float:
    """Give a just-finished file a modification time after ``previous_mtime`` if the wall
    clock stepped back, so retention still takes files in the order they were written.
    Returns the file's modification time."""
    try:
        mtime = os.stat(path).st_mtime
        if mtime <= previous_mtime:
            mtime = previous_mtime + 0.001
            os.utime(path, (mtime, mtime))
    except OSError:
        return previous_mtime
    return mtime


@dataclass
class GuardState:
    free_bytes: int = -1
    warning: bool = False
    error: str = ""
    deleted_count: int = 0
    deleted_bytes: int = 0
    retention: str = "ok"        # "ok", or why retention cannot keep the floor
    undeletable: int = 0         # finished segments retention could not delete


class DiskGuard:
    def __init__(self, root: Path, warn_gb: float, floor_gb: float, target_gb: float, retention: bool,
                 quota_gb: float = 0.0, max_age_days: int = 0,
                 free_bytes: Callable[[Path], int] = free_bytes_of, now: Callable[[], float] = time.time,
                 event_keep_days: float = 0.0, index: ArchiveIndex | None = None) -> None:
        self.root = root
        self.index = index if index is not None else ArchiveIndex(root, busy_ms=INDEX_BUSY_MS)
        self.warn = int(warn_gb * GB)
        self.floor = int(floor_gb * GB)
        self.target = int(target_gb * GB)
        self.quota = int(quota_gb * GB)
        self.max_age_s = max_age_days * 86400
        self.retention = retention
        self.events = EventKeep(self.index, event_keep_days) if event_keep_days > 0 else None
        self._free_bytes = free_bytes
        self._now = now
        self.state = GuardState()
        self.deleted: deque[DeletedSegment] = deque(maxlen=HISTORY)
        self.undeletable: OrderedDict[str, str] = OrderedDict()   # path -> why (logged once)
        self._lock = FileLock(root / LOCK_NAME)
        self._last: tuple[float, int] | None = None   # (monotonic time, free bytes) of the last check

    def free_bytes(self) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        return self._free_bytes(self.root)

    def check(self, full: bool = False) -> GuardState:
        """Measure, warn, and apply retention; never raises.

        ``full``: a write just failed for lack of space, so make room (with retention on)
        whatever the measured free space says.
        """
        try:
            free = self.free_bytes()
            if self.retention:
                with self._lock.held():   # the other recorder's pass first, if it runs one
                    free = self.free_bytes()
                    free = self._apply_retention(free, full)
            self._last = (time.monotonic(), free)
            self.state.error = ""
        except OSError as exc:
            self.state.error = f"disk check failed: {exc}"
            log.error("%s", self.state.error)
            return self.state
        warning = free < self.warn
        if warning and not self.state.warning:
            log.warning("disk: only %.2f GB free under %s (warning below %.2f GB)", free / GB, self.root,
                        self.warn / GB)
        elif self.state.warning and not warning:
            log.info("disk: %.2f GB free again", free / GB)
        self.state.free_bytes, self.state.warning = free, warning
        return self.state

    def headroom(self, free: int) -> int:
        """What the recorders may write before the next check: twice what they wrote since the
        last one, so retention starts early enough for free space to stay above the floor."""
        if self._last is None:
            return 0
        return max(0, 2 * (self._last[1] - free))

    def _apply_retention(self, free: int, full: bool = False) -> int:
        start_at = self.floor + self.headroom(free) if self.floor else 0  # floor 0: only a full disk acts
        need_space = free < start_at or full
        if not (need_space or self.quota or self.max_age_s):
            self.state.retention = "ok"
            return free  # nothing can apply: skip listing the files
        self.index.refresh()
        total = self.index.total_bytes() if self.quota else 0
        oldest_allowed = self._now() - self.max_age_s if self.max_age_s else None
        target = max(self.target, start_at)
        skipped = 0
        held = self.events is not None and self.index.holds_events()
        recordings = self.events.order() if held and self.events else self.index.oldest_first()
        for rec in recordings:
            if need_space and free >= target:
                need_space = False
            extra = self.events.keep_s if held and self.events and rec.event else 0.0
            too_old = oldest_allowed is not None and rec.written < oldest_allowed - extra
            over_quota = bool(self.quota) and total > self.quota
            if not (need_space or too_old or over_quota):
                if held and oldest_allowed is not None:
                    continue  # not strictly oldest first: a later one may still be too old
                # Oldest first, or (events held) no age limit: free space and quota only ever stop
                # asking within a pass, so when this one may stay, so may every later one.
                break
            reason = "free space" if need_space else ("age" if too_old else "quota")
            deleted = self._delete(rec, reason)
            if deleted is None:
                skipped += 1
                continue  # cannot be deleted: the next oldest instead
            if deleted:
                total -= rec.size
                free = self.free_bytes()
        self.state.undeletable = len(self.undeletable)
        if free < self.floor:
            why = (f"{skipped} file(s) cannot be deleted" if skipped else "no finished segment left to delete")
            retention = f"cannot keep {self.floor / GB:.2f} GB free: {why}"
            if retention != self.state.retention:
                log.error("disk: %.2f GB free; retention %s", free / GB, retention)
            self.state.retention = retention
        else:
            self.state.retention = "ok"
        return free

    def _delete(self, rec: Recording, reason: str) -> bool | None:
        """True when deleted, False when already gone, None when it cannot be deleted."""
        path = self.root / rec.file
        try:
            path.unlink()
        except FileNotFoundError:
            self.index.remove(rec.file)
            return False  # the other camera's recorder got there first
        except OSError as exc:
            key = str(path)
            if key not in self.undeletable:
                log.error("retention: cannot delete %s (%s); skipped", rec.file, exc.strerror or exc)
                self.undeletable[key] = exc.strerror or str(exc)
                while len(self.undeletable) > UNDELETABLE_MAX:
                    self.undeletable.popitem(last=False)
            return None
        self.index.remove(rec.file)
        self.undeletable.pop(str(path), None)
        log.info("retention (%s): deleted %s (%d bytes)", reason, rec.file, rec.size)
        if self.events is not None:
            self.events.deleted(rec)
        self.state.deleted_count += 1
        self.state.deleted_bytes += rec.size
        self.deleted.append({"file": rec.file, "bytes": rec.size, "reason": reason, "at": round(self._now(), 3)})
        try:
            path.parent.rmdir()  # the day's folder, once empty
        except OSError:
            pass
        return True
