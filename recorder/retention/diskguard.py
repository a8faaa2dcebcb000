"""Free space and retention: recordings never fill the disk, and what goes follows the rule.

:meth:`DiskGuard.check` is one pass; the retention worker (:mod:`recorder.retention.worker`)
runs it every ``recorder.check_seconds`` and when a write failed, never the recording loop:

* under ``disk_warn_gb`` free: a warning (log and status);
* with retention on, segments go as :mod:`recorder.retention.policy` says, each one logged:
  for free space while it is under ``free_floor_gb`` (until ``free_target_gb`` is free), for
  ``quota_gb``, and for ``max_age_days``.

Only our own files count, as the archive index lists them (its folders listed again before
each pass that may delete, and every ``RELIST_S``): the bytes the recorders wrote since the
last pass, not a drop in free space (an ``apt upgrade``, a copied file), decide how early
room is made; only finished segments, never a file being written, are deleted, and only
through :mod:`recorder.retention.remover` (no symbolic link followed, nothing outside the
root; what refuses is left out, logged once per cause).

One pass at a time for both recorders: a lock (``.retention.lock`` in the root) taken with a
timeout and held for one step (``STEP_FILES`` files or ``STEP_S``), then given up, so a
recorder stuck on a dying disk holds the other one up for a step at most; one that cannot
get the lock skips the pass (and says so when free space is short meanwhile).

Ages are judged by the recorder's own clock: the capture time at which its newest segment
ended plus the monotonic time since, not a wall clock that may have jumped; a segment is
never younger than one written after it (so one named in the future still ages out).

The bytes of the event segments outside the window (the event share) are counted in full
every ``RECOUNT_S`` (one query led by the events database's list: as many look-ups as event
segments); in between, this guard's deletions and the segments that left the window are
added in.  The other recorder's deletions show at the next count.  The status's figures (what
is kept) are taken at that count and at the end of every pass that deleted (each camera's
continuous time counted on from the count before and the pass's deletions, the oldest event
kept, and the share as kept up); which rule binds is said again after every pass.

A step asks the index for its next candidates of each kind together (``STEP_FILES`` of them),
not once per file.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from common.archive import segment_name
from common.archive.index import FIRST_KEY, ArchiveIndex, Continuous, Recording, Skip, Window, WriteKey
from common.archive.offsite_queue import queued_files
from common.state.documents import DeletedSegment, RetentionStatus
from common.state.jsonfile import FileLock
from recorder.retention.marks import EventMarks
from recorder.retention.policy import (
    GB,
    IN_WINDOW,
    Choice,
    Kept,
    Limits,
    Need,
    View,
    choose,
    describe,
    older,
    window_state,
)
from recorder.retention.remover import Remover

log = logging.getLogger("recorder")
HISTORY = 20            # deletions kept for the status document
LOCK_NAME = ".retention.lock"
LOCK_WAIT_S = 2.0       # a pass waits this long for the other recorder's step, then skips
LOCKED_LONG_S = 30.0    # locked out this long while free space is short: the state says so
STEP_FILES = 8          # a step deletes at most this many files...
STEP_S = 0.05           # ...or works this long, then gives the lock up
YIELD_S = 0.005         # between steps: the other recorder, and this process's recording loop, get their turn
RECOUNT_S = 120.0       # the event share and the status figures are counted in full this often
RELIST_S = 600.0        # the folders are listed again before a pass that may delete, else this often


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
    retention: str = "ok"        # "ok", or why the rule is not kept (health fails with it)
    retention_code: str = "ok"   # the same as a code: ok | floor | window | locked
    undeletable: int = 0         # segments retention may not or cannot delete
    rule: str = ""               # which rule binds, in the owner's words
    kept: Kept | None = None     # what the archive holds (None before the first count)


@dataclass
class _Pass:
    """One pass's reasons to make room."""

    space: bool                  # free space under the floor plus headroom, or a write failed: until the target
    floor: bool                  # under the floor itself, or a write failed: the window may be cut into
    target: int
    prepared: bool = False
    stuck: set[str] = field(default_factory=set)   # deleted, but the row stayed: not asked for again
    removed: list[str] = field(default_factory=list)   # deleted in this step: their rows go at its end
    # Segments waiting to go off-site: spared unless the free-space floor itself forces them.
    queued: frozenset[str] = frozenset()
    # The step's next candidates of each kind (True: event segments), asked for together.
    next: dict[bool, _Next] = field(default_factory=dict)


@dataclass
class _Next:
    """The next few segments of one kind outside the windows, in write order, from one query:
    the ones a step deletes or a later skip leaves out are dropped from the front."""

    found: deque[tuple[Recording, WriteKey]]
    last: WriteKey   # the next query starts after it
    more: bool       # the query filled its limit: more may follow ``last``


class DiskGuard:
    def __init__(self, root: Path, limits: Limits, free_bytes: Callable[[Path], int] = free_bytes_of,
                 now: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
                 index: ArchiveIndex | None = None, pause: Callable[[float], None] = time.sleep,
                 lock_wait_s: float = LOCK_WAIT_S) -> None:
        self.root = Path(root)
        self.limits = limits
        self.index = index if index is not None else ArchiveIndex(self.root)   # (a reader's short waits)
        self.remover = Remover(self.root, monotonic)
        self.marks = EventMarks(self.root)
        self.state = GuardState()
        self.deleted: deque[DeletedSegment] = deque(maxlen=HISTORY)
        self.lock_wait_s = lock_wait_s
        self._free_bytes = free_bytes
        self._now = now
        self._mono = monotonic
        self._pause = pause
        self._lock = FileLock(self.root / LOCK_NAME)
        self._shown = threading.Lock()   # the state and history, read by the status from the recording loop
        self._seen_ns: int | None = None   # the newest segment's write time at the last pass
        self._clock: tuple[float, float] | None = None   # (capture time, monotonic time) the recorder's clock runs from
        self._windows: list[Window] = []
        self._continuous: dict[int, Continuous | None] = {}   # each camera's, as last counted
        self._went: dict[int, list[Recording]] = {}           # each camera's deleted since (bounded: a pass's)
        self._total = 0                  # bytes of our recordings
        self._events: tuple[int, int] | None = None   # (count, bytes) of event segments outside the window
        self._counted_at: float | None = None
        self._listed_at: float | None = None
        self._after_plain: WriteKey = FIRST_KEY   # every plain segment outside the window is after these
        self._after_event: WriteKey = FIRST_KEY
        self._binding: Choice | None = None
        self._window_cut = False
        self._locked_since: float | None = None
        self._state_kind = "ok"
        self.halt = False                # set from another thread: the pass under way ends after its step

    # -- the recorder's clock ------------------------------------------------------------------
    def saw_segment(self, capture_end: float) -> None:
        """The recording loop finished a segment whose last frame was captured at ``capture_end``
        (epoch seconds, by the capture clock)."""
        self._clock = (capture_end, self._mono())

    def recorder_now(self) -> float | None:
        """Now by the recorder's clock; before its first segment, from the newest one in the
        index (None: no segment at all, so nothing has an age)."""
        if self._clock is None:
            end = self.index.newest_end()
            if end is None:
                return None
            self._clock = (end, self._mono())
        capture, mono = self._clock
        return capture + self._mono() - mono

    # -- a pass --------------------------------------------------------------------------------
    def free_bytes(self) -> int:
        self.root.mkdir(parents=True, exist_ok=True)
        return self._free_bytes(self.root)

    def check(self, full: bool = False) -> GuardState:
        """One pass: measure, warn, make room as the rule says; never raises.

        ``full``: a write just failed for lack of space, so make room (with retention on)
        whatever the measured free space says."""
        try:
            free = self.free_bytes()
            if self.limits.retention:
                free = self._retain(free, full)
        except (OSError, sqlite3.Error) as exc:
            self._went.clear()
            self._continuous.clear()   # (what it deleted before the error is not known: counted in full next)
            self._failed(exc)
            return self.state
        self._note_free(free)
        return self.state

    def measure(self) -> None:
        """Free space and the warning alone (a statvfs): the status has them before the first pass."""
        try:
            self._note_free(self.free_bytes())
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        error = f"disk check failed: {exc}"
        if error != self.state.error:   # (once, not at every pass)
            log.error("%s", error)
        with self._shown:
            self.state.error = error

    def _note_free(self, free: int) -> None:
        warning = free < self.limits.warn
        if warning and not self.state.warning:
            log.warning("disk: only %.2f GB free under %s (warning below %.2f GB)", free / GB, self.root,
                        self.limits.warn / GB)
        elif self.state.warning and not warning:
            log.info("disk: %.2f GB free again", free / GB)
        with self._shown:
            self.state.free_bytes, self.state.warning, self.state.error = free, warning, ""

    def snapshot(self) -> tuple[GuardState, list[DeletedSegment]]:
        """The state and the latest deletions, as one consistent copy (any thread)."""
        with self._shown:
            return replace(self.state), list(self.deleted)

    def status(self) -> RetentionStatus:
        """Free space and retention, as the recorder's status document has them (any thread)."""
        g, deleted = self.snapshot()
        return {"disk_free_bytes": g.free_bytes, "disk_warning": g.warning, "disk_error": g.error,
                "retention": self.limits.retention, "retention_deleted_count": g.deleted_count,
                "retention_deleted_bytes": g.deleted_bytes, "retention_deleted": deleted,
                "retention_state": g.retention, "retention_code": g.retention_code,
                "retention_undeletable": g.undeletable, "retention_rule": g.rule,
                "retention_kept": None if g.kept is None else g.kept.doc()}

    def _retain(self, free: int, full: bool) -> int:
        lim = self.limits
        listed = self._listed_at is None
        if listed:
            self._relist()   # (before the first count of what was written: its baseline)
        wrote = self._written()
        start_at = lim.floor + 2 * wrote if lim.floor else 0   # floor 0: only a full disk makes room
        p = _Pass(space=full or free < start_at, floor=full or free < lim.floor, target=max(lim.target, start_at))
        deletes = p.space or bool(lim.quota) or bool(lim.max_age_s)
        if not (deletes or self._count_due()):
            self.marks.flush()   # (those motion held up last time)
            self._set_state(free)
            return free
        if not listed and (deletes or self._mono() - (self._listed_at or 0.0) >= RELIST_S):
            self._relist()
        deleted = self.state.deleted_count
        while True:
            with self._lock.try_held(self.lock_wait_s) as got:
                if not got:
                    self._locked_out(free, p)
                    return free
                self._locked_since = None
                done, free = self._step(p, free)
            if done or self.halt:
                break
            self._pause(YIELD_S)
        self.marks.flush()
        if self._count_due() and not self.halt:
            self._count()
        elif self.state.deleted_count > deleted:
            self._tally()   # (what this pass deleted shows at once, not at the next count)
        self._set_state(free)
        return free

    def _relist(self) -> None:
        """List the folders that changed.  The recorders add their own rows: the listing (today's
        folders hold thousands of files) finds only what changed behind their backs, so it is
        done before a pass that may delete, and every ``RELIST_S``."""
        self.index.refresh()
        self._listed_at = self._mono()

    def _written(self) -> int:
        """Bytes of the segments the recorders finished since the last pass (the index's own)."""
        wrote, self._seen_ns = self.index.written_since(self._seen_ns)   # (the first pass: none, a baseline)
        return wrote

    def _step(self, p: _Pass, free: int) -> tuple[bool, int]:
        """Up to STEP_FILES deletions or STEP_S; (whether the pass is done, free bytes).  The
        rows of the files it deleted go together at its end: one write to the index."""
        try:
            with self.index.holding_events():
                return self._deletions(p, free)
        finally:
            if p.removed and not self.index.remove(*p.removed):
                p.stuck.update(p.removed)   # the rows go at a later refresh
            p.removed.clear()

    def _deletions(self, p: _Pass, free: int) -> tuple[bool, int]:
        started = self._mono()
        free = self.free_bytes()   # (the other recorder may have made room while this one waited)
        if not p.prepared:
            self._prepare()
            p.queued = queued_files(self.root)
            p.prepared = True
        p.next.clear()   # (the other recorder may have deleted since the last step)
        for _ in range(STEP_FILES):
            if self._mono() - started > STEP_S:
                return False, free
            p.space = p.space and free < p.target
            need = Need(space=p.space, floor=p.space and p.floor,
                        quota=bool(self.limits.quota) and self._total > self.limits.quota)
            skip = self.remover.skip()
            spared = p.queued if not need.floor else frozenset()
            if p.stuck or p.removed or spared:
                skip = Skip(skip.cameras, skip.folders, skip.files | p.stuck | set(p.removed) | spared)
            choice = choose(self._view(need, skip, p.next), self.limits, need)
            if choice is None:
                return True, free
            free = self._delete(choice, p, free)
        return False, free

    def _prepare(self) -> None:
        """The pass's first step: the windows, the event share, the totals."""
        windows = self.index.windows(self.limits.keep_continuous_s, self.limits.nominal_s)
        self.remover.check_camera_folders([w.camera for w in windows])
        self.remover.recheck()
        self.index.add_waiting(windows)
        held = self._held()
        # A camera folder retention may not delete from (a symbolic link) is not ours: what is
        # kept is counted over the others (and without a window, none of its rows is a candidate).
        windows = [w for w in windows if w.camera not in held.cameras]
        if self._events is None:
            self._events = self.index.event_bytes(windows, held)
        else:
            moved = self.index.event_bytes(windows, held, since=self._windows)
            if moved is not None:
                self._events = (self._events[0] + moved[0], self._events[1] + moved[1])
        self._windows = windows
        self._total = self.index.total_bytes(held)

    def _held(self) -> Skip:
        """What the share and the totals count: every segment of ours on the disk, those retention
        may not delete too (a day folder a `sudo` run took still fills the disk, and its events
        their share), but not a camera folder that is another disk's."""
        return Skip(self.remover.skip().cameras)

    def _count_due(self) -> bool:
        return self._counted_at is None or self._mono() - self._counted_at >= RECOUNT_S

    def _view(self, need: Need, skip: Skip, ahead: dict[bool, _Next]) -> View:
        """What the rule needs to know now, from the index."""
        found_plain = self._next(False, skip, ahead)
        found_event = self._next(True, skip, ahead)
        plain = found_plain[0] if found_plain else None
        event = found_event[0] if found_event else None
        if found_plain:   # (every one before it is gone or an event: the next look starts here)
            self._after_plain = _before(found_plain[1])
        if found_event:
            self._after_event = _before(found_event[1])
        first = older(plain, event)
        age = None
        if first is not None and (self.limits.max_age_s or first is event):
            age = self._age(first)
        kept = None
        if plain is None and event is None and need.floor:
            found = self.index.oldest(skip=skip)
            kept = found[0] if found else None
        count, size = self._events or (0, 0)
        return View(self._total, size if count else 0, plain, event, age, kept)

    def _next(self, held: bool, skip: Skip, ahead: dict[bool, _Next]) -> tuple[Recording, WriteKey] | None:
        """The oldest segment of the kind outside the windows and not skipped; asked for
        ``STEP_FILES`` at a time (a step deletes at most that many)."""
        known = ahead.get(held)
        while True:
            if known is None or (not known.found and known.more):
                after = known.last if known else self._after_event if held else self._after_plain
                rows = self.index.oldest_few(STEP_FILES, held, self._windows, skip, after)
                known = ahead[held] = _Next(deque(rows), rows[-1][1] if rows else after, len(rows) == STEP_FILES)
            while known.found and not skip.keeps(known.found[0][0]):
                known.found.popleft()   # deleted in this step, or left out since
            if known.found:
                return known.found[0]
            if not known.more:
                return None

    def _age(self, rec: Recording) -> float | None:
        """Seconds since ``rec`` started, by the recorder's clock, and at least those of every
        segment of its camera written after it."""
        now = self.recorder_now()
        if now is None:
            return None
        first = self.index.first_start_since(rec.camera, round(rec.written * 1e9))
        return now - min(rec.start, first if first is not None else rec.start)

    def _delete(self, choice: Choice, p: _Pass, free: int) -> int:
        rec = choice.victim
        done = self.remover.remove(rec.file)
        if done is None:
            return free   # left out from now on (the remover said why)
        p.removed.append(rec.file)
        if not done:
            return free   # the other recorder got there first
        self._total -= rec.size
        self._went.setdefault(rec.camera, []).append(rec)
        if rec.event and choice.rule != IN_WINDOW and self._events is not None:
            self._events = (self._events[0] - 1, self._events[1] - rec.size)
        if rec.event is not False:
            self.marks.deleted(rec.file)
        if choice.rule == IN_WINDOW and not self._window_cut:
            self._window_cut = True
            self._counted_at = None   # the status's figures at the end of this pass
            log.error("retention: free space takes the continuous window: recorder.keep_continuous_hours = %g "
                      "cannot be kept on this disk", self.limits.keep_continuous_s / 3600)
        self._binding = choice
        log.info("retention (%s): deleted %s (%d bytes; %s)", choice.trigger, rec.file, rec.size, choice.rule)
        with self._shown:
            self.state.deleted_count += 1
            self.state.deleted_bytes += rec.size
            self.deleted.append({"file": rec.file, "bytes": rec.size, "reason": choice.trigger,
                                 "rule": choice.rule, "at": round(self._now(), 3)})
        return self.free_bytes()

    # -- what the status says ------------------------------------------------------------------
    def _count(self) -> None:
        """Everything counted in full: the event share, the segments left out, and the status's
        figures."""
        self._events = self.index.event_bytes(self._windows, self._held())
        self._after_plain = self._after_event = FIRST_KEY   # (rows a refresh found may be older)
        self._continuous.clear()   # (counted in full: a duration measured since, a row found behind)
        self._went.clear()
        self._counted_at = self._mono()
        undeletable = self.remover.files + sum(self._segments_in(folder) for folder in self.remover.folders())
        with self._shown:
            self.state.undeletable = undeletable
        self._tally()

    def _tally(self) -> None:
        """The status's figures: each camera's continuous time and the oldest event kept (a
        query each), and the event share as last counted with this guard's deletions since."""
        continuous = []
        for w in self._windows:
            seconds, self._continuous[w.camera] = self.index.continuous_from(
                w.camera, self.limits.nominal_s, self._continuous.get(w.camera), self._went.pop(w.camera, []))
            continuous.append(seconds)
        self._went.clear()
        events, total = self._events, self._total
        event = self.index.oldest(True, skip=self._held())   # (the window's too: how far back events go)
        event_age = self._age(event[0]) if event else None
        if self._window_cut and all(w.recorded_s >= self.limits.keep_continuous_s for w in self._windows):
            self._window_cut = False
            log.info("retention: the continuous window is whole again")
        count, size = events or (0, 0)
        kept = Kept(min(continuous, default=0.0), event_age, size if count else 0, total, self._window_cut)
        with self._shown:
            self.state.kept = kept

    def _segments_in(self, folder: str) -> int:
        """Segments the index lists in a camera folder (``cam{N}``) or a day folder."""
        cam, _, day = folder.partition("/")
        camera = segment_name.camera_of_folder(cam)
        if camera is None:
            return 0
        return sum(n for d, n, _ in self.index.days(camera) if not day or d == day)

    def _set_state(self, free: int) -> None:
        lim, kept = self.limits, self.state.kept
        if free < lim.floor:
            undeletable = self.state.undeletable or self.remover.files
            why = f"{undeletable} segment(s) cannot be deleted" if undeletable else "no finished segment left to delete"
            kind, state = "floor", f"cannot keep {lim.floor / GB:.2f} GB free: {why}"
        elif self._window_cut and kept is not None:
            kind, state = "window", window_state(kept, lim)
        else:
            kind, state = "ok", "ok"
        if kind != self._state_kind and kind != "ok":   # (said when it starts, not at every changed figure)
            log.error("disk: %.2f GB free; retention: %s", free / GB, state)
        self._state_kind = kind
        with self._shown:
            self.state.retention, self.state.retention_code = state, kind
            if kept is not None:   # (the rule that binds now, with the figures of the last count)
                self.state.rule = describe(kept, lim, self._binding, self._binding is None and self.index.any_gone())

    def _locked_out(self, free: int, p: _Pass) -> None:
        """The other recorder held the lock for the whole wait: this pass is skipped."""
        now = self._mono()
        if self._locked_since is None:
            self._locked_since = now - self.lock_wait_s
            log.warning("retention: the other recorder's pass holds the lock; this one is skipped")
        held = now - self._locked_since
        if p.space and held >= LOCKED_LONG_S:
            state = (f"cannot keep {self.limits.floor / GB:.2f} GB free: the other recorder's retention pass "
                     f"has held the lock for {held:.0f} s")
            if not self.state.retention.startswith(state.split(" for ")[0]):
                log.error("disk: %.2f GB free; retention: %s", free / GB, state)
            with self._shown:
                self.state.retention, self.state.retention_code = state, "locked"


def _before(key: WriteKey) -> WriteKey:
    """The place in write order just before ``key`` (a look that starts after it finds it again)."""
    written_ns, start, collision, camera, rowid = key
    return written_ns, start, collision, camera, rowid - 1
