"""The uploader: follows the archive index into the queue and sends one segment at a time.

Between two files it looks at the index again, so a segment finished while the backlog drains
goes next (newest first).  A failure keeps the segment queued and waits before the next try,
longer after each failure in a row (up to ``BACKOFF_MAX_S``), so an outage costs no CPU and the
page says what is wrong meanwhile.  Nothing here is ever waited on by a recorder: the index is
read, never written, and the queue is a database of its own.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from common.archive import events as event_store
from common.archive.index import ArchiveIndex
from common.archive.offsite_queue import UploadQueue
from common.config import Config
from common.state.board import StatusBoard
from common.state.documents import OffsiteCamera, OffsiteCause, OffsiteState, OffsiteStatus
from offsite import event_files
from offsite.rclone import Outcome, Rclone
from offsite.remote_label import remote_label

log = logging.getLogger("offsite")
T = TypeVar("T")
POLL_S = 1.0                 # an idle uploader looks for finished segments this often
BACKOFF_MAX_S = 30.0
FOLLOW_PAGE = 256            # index rows queued per look
EVENTS_EVERY_S = 5.0         # the events database is looked at this often (the motion process resolves as often)
EVENTS_PAGE = 256            # events read per look
PRUNE_EVERY_S = 3600.0
REMOTE_RETENTION_EVERY_S = 6 * 3600.0


class Uploader:
    def __init__(self, cfg: Config, rclone: Rclone | None = None) -> None:
        self.cfg = cfg
        self.root = cfg.recordings_root
        self.index = ArchiveIndex(self.root)
        self.queue = UploadQueue(self.root, cfg.offsite.mode)
        self.rclone = rclone or Rclone(cfg.offsite.remote, cfg.offsite.bwlimit)
        self.label = remote_label(cfg.offsite.remote)
        self.board = StatusBoard.for_config(cfg)
        self.stopping = False
        self.state: OffsiteState = "waiting"
        self.failures = 0
        self.sent_segments = 0
        self.sent_bytes = 0
        self.last_error = ""
        self.last_cause: OffsiteCause | None = None
        self.last_error_at: float | None = None
        self.pruned_at = 0.0
        self.remote_kept_at = 0.0
        self.events_at = -EVENTS_EVERY_S
        self.events_error = ""

    def stop(self, *_: object) -> None:
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < until:
            time.sleep(min(0.2, until - time.monotonic() + 0.001))

    def follow(self) -> None:
        """Queue what the recorders finished since the last look."""
        self.index.refresh()
        while not self.stopping:
            found = self.index.written_after(self.queue.mark(), FOLLOW_PAGE)
            self.queue.follow(found)
            if len(found) < FOLLOW_PAGE:
                break
        now = time.monotonic()
        if now - self.events_at >= EVENTS_EVERY_S:
            self.events_at = now
            self.flag_events()

    def flag_events(self) -> None:
        """Flag the segments motion marked as an event's since the last look (one page of events:
        bounded work per look; the mark moves on at the next)."""
        try:
            mark = self.queue.event_mark()
            self.queue.flag_events(self._read_events(lambda c: event_store.segments_after(c, mark, EVENTS_PAGE)))
            self.events_error = ""
        except sqlite3.Error as exc:
            # The segments go as plain ones meanwhile (in events mode: not yet); said once per kind.
            if str(exc) != self.events_error:
                self.events_error = str(exc)
                log.warning("events database: %s; event segments are flagged once it can be read", exc)

    def _read_events(self, work: Callable[[sqlite3.Connection], list[T]]) -> list[T]:
        """``work`` on the events database; nothing when there is none (no motion process yet)."""
        conn = event_store.connect(event_store.db_path(self.root))
        if conn is None:
            return []
        try:
            return work(conn)
        finally:
            conn.close()

    def step(self) -> bool:
        """Send the next segment; False when there was nothing to send."""
        self.follow()
        waiting = self.queue.events_waiting(1)
        if waiting:
            self.send_event(waiting[0])
            return True
        batch = self.queue.batch(1)
        if not batch:
            self.state = "up to date"
            return False
        item = batch[0]
        local = self.root / item.file
        if not local.is_file():
            log.warning("%s was deleted before it was sent off-site", item.file)
            self.queue.lost(item.file)
            return True
        size = local.stat().st_size
        outcome = self.rclone.send(local, item.file)
        if outcome.ok:
            self.queue.sent(item.file, size)
            self.sent_segments += 1
            self.sent_bytes += size
            self.failures = 0
            self.state = "sending"
        else:
            self.queue.failed(item.file)
            self._failed(outcome, item.file)
        return True

    def send_event(self, event_id: int) -> None:
        """Send an event's thumbnail and metadata (small: before the next segment)."""
        try:
            files = self._read_events(lambda c: event_files.stage(c, event_id, self.cfg.run_dir / "offsite"))
        except sqlite3.Error as exc:
            self._failed(Outcome(False, "other", f"events database: {exc}"), f"event {event_id}")
            return
        for local, remote in files:
            outcome = self.rclone.send(local, remote)
            local.unlink(missing_ok=True)
            if not outcome.ok:
                self._failed(outcome, remote)
                return
        self.queue.event_sent(event_id)
        self.failures = 0
        self.state = "sending"

    def _failed(self, outcome: Outcome, what: str) -> None:
        self.failures += 1
        if outcome.error != self.last_error:
            log.error("%s not sent (%s): %s", what, outcome.cause, outcome.error)
        self.state = "error"
        self.last_error, self.last_cause, self.last_error_at = outcome.error, outcome.cause, time.time()

    def housekeeping(self, now: float) -> None:
        if now - self.pruned_at >= PRUNE_EVERY_S:
            self.pruned_at = now
            self.queue.prune(now)
        days = self.cfg.offsite.keep_days
        if days and now - self.remote_kept_at >= REMOTE_RETENTION_EVERY_S:
            self.remote_kept_at = now
            outcome = self.rclone.delete_older(days)
            if not outcome.ok:
                self._failed(outcome, f"remote retention ({days} days)")

    def status(self, stopped: bool = False) -> OffsiteStatus:
        now = time.time()
        backlog = self.queue.backlog()
        newest = self.queue.newest_sent()
        cameras: dict[str, OffsiteCamera] = {}
        for cam in range(self.cfg.camera.count):
            waiting = backlog.get(cam)
            file, start = newest.get(cam, (None, None))
            oldest = waiting.oldest_start if waiting else None
            cameras[str(cam)] = {"newest_file": file, "newest_start": start,
                                 "lag_s": round(max(0.0, now - oldest), 1) if oldest is not None else 0.0,
                                 "backlog_segments": waiting.segments if waiting else 0,
                                 "backlog_bytes": waiting.bytes if waiting else 0}
        return {"pid": 0 if stopped else os.getpid(), "enabled": True, "remote": self.label,
                "mode": self.cfg.offsite.mode, "state": self.state, "cameras": cameras,
                "sent_segments": self.sent_segments, "sent_bytes": self.sent_bytes,
                "last_sent_at": self.queue.last_sent_at(), "lost_before_upload": self.queue.lost_count(),
                "last_error": self.last_error, "last_error_cause": self.last_cause,
                "last_error_at": self.last_error_at, "max_lag_minutes": self.cfg.offsite.max_lag_minutes}

    def publish(self, stopped: bool = False) -> None:
        try:
            self.board.publish_offsite(self.status(stopped), final=stopped)
        except OSError as exc:
            log.warning("status: %s", exc)

    def run(self) -> int:
        published = 0.0
        while not self.stopping:
            busy = self.step()
            now = time.monotonic()
            if now - published >= POLL_S or not busy:
                self.publish()
                published = now
            self.housekeeping(time.time())
            if self.state == "error":
                self._sleep(min(BACKOFF_MAX_S, 2.0 ** min(self.failures, 5)))
            elif not busy:
                self._sleep(POLL_S)
        self.publish(stopped=True)
        self.queue.close()
        return 0
