"""``python -m motion``: motion events for every camera, from the sd rings.

Reads the newest sd frame of each camera ``motion.analyse_fps`` times a second (Y plane,
downscaled), keeps events in ``<recorder root>/events.sqlite``, finds the segments that
cover each closed event, optionally POSTs each event start to ``motion.webhook_url``, and
publishes its status (:mod:`common.state.board`) for the page's MOTION badge.
Exit codes: 0 on SIGINT/SIGTERM, 2 for a bad configuration.  With ``motion.enabled``
false it only waits for the stop signal (so the supervisor does not restart it in a loop);
while the recordings disk is not mounted where ``recorder.require_mount`` says, it waits for it.
"""
from __future__ import annotations

import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable

from common.archive.events import EventStore, db_path
from common.archive.index import ArchiveIndex
from common.archive.mount import mount_problem
from common.clock import Pacer
from common.config import Config
from common.process.startup import start_service
from common.state.board import StatusBoard
from common.state.documents import EventProgress, MotionCamera, MotionStatus
from common.state.live_picture import LivePictures
from motion.camera import CameraWatch
from motion.coverage import resolve
from motion.webhook import Webhook

log = logging.getLogger("motion")
STATUS_EVERY_S = 1.0
RESOLVE_EVERY_S = 5.0
PRUNE_EVERY_S = 600.0
DISK_WAIT_S = 1.0       # how often an absent recordings disk is looked for at start


class MotionService:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.stopping = False
        self.root = cfg.recordings_root
        self.index = ArchiveIndex(self.root)
        self.store, replaced = EventStore.open_or_replace(db_path(self.root))
        if replaced:
            log.error("events database: %s", replaced)
        self._db_error = ""
        self.board = StatusBoard.for_config(cfg)
        self._catch_up()
        closed = self.store.close_orphans()
        if closed:
            log.warning("closed %d event(s) left open when the motion process last stopped", closed)
        self.webhook = Webhook(cfg.motion.webhook_url) if cfg.motion.webhook_url else None
        on_start = self.webhook.post if self.webhook else None
        self.watches = [CameraWatch(cfg, cam, self.store, on_start) for cam in range(cfg.camera.count)]

    def stop(self, *_: object) -> None:
        self.stopping = True

    def _catch_up(self) -> None:
        """Bring events left open by a predecessor killed outright up to the progress it last
        published (once a second, in memory) and their newest picture (in memory): the
        database has the progress only every five minutes, and no picture before the event's end."""
        doc = self.board.read_motion()
        cameras = doc.get("cameras", {}) if doc else {}
        pictures = LivePictures(self.cfg.run_dir, self.cfg.ring.prefix)
        for key, cam in cameras.items():
            p = cam.get("progress")
            # A document read back keeps only well-typed values: use a progress only when whole.
            if p and EventProgress.__required_keys__ <= p.keys() and key.isdigit():
                self.store.touch(p["event_id"], p["last_wall"], p["last_mono"], p["peak_area"], p["bbox"],
                                 p["peak_wall"], pictures.get(int(key), p["event_id"]))
        for camera in range(self.cfg.camera.count):
            pictures.drop(camera)   # in the store now, or of no open event

    def run(self) -> int:
        pacer = Pacer(float(self.cfg.motion.analyse_fps))
        last_status = last_resolve = 0.0
        last_prune = -PRUNE_EVERY_S
        published: list[int | None] = []
        try:
            while not self.stopping:
                pacer.wait()
                for watch in self.watches:
                    self._guarded(watch.tick)
                now = time.monotonic()
                # An event that opens or closes is told at once (the badge, the events list's "ongoing").
                open_ids = [w.open_event.event_id if w.open_event else None for w in self.watches]
                if now - last_status >= STATUS_EVERY_S or open_ids != published:
                    last_status, published = now, open_ids
                    self._publish()
                if now - last_resolve >= RESOLVE_EVERY_S:
                    last_resolve = now
                    self._guarded(self.resolve_segments)
                if now - last_prune >= PRUNE_EVERY_S:
                    last_prune = now
                    self._guarded(self._prune)
        finally:
            for watch in self.watches:
                self._guarded(watch.stop)
            self._guarded(self.resolve_segments)
            self._publish(stopped=True)
            if self.webhook:
                self.webhook.close()
            self.store.close()
        return 0

    def _guarded(self, work: Callable[[], object]) -> None:
        """Run ``work``; a database error (disk full, locked too long) is logged once per
        kind and detection goes on: events are lost meanwhile, the process is not."""
        try:
            work()
            if self._db_error:
                log.info("events database: writable again")
                self._db_error = ""
        except sqlite3.Error as exc:
            if str(exc) != self._db_error:
                self._db_error = str(exc)
                log.error("events database: %s: %s", type(exc).__name__, exc)

    def _prune(self) -> None:
        gone = self.store.prune(self.cfg.recorder.event_keep_days)
        if gone:
            log.info("dropped %d old event(s)", gone)

    def resolve_segments(self) -> None:
        """Store the segment files that cover each closed event, once they are all written."""
        # The index is held from the moment it exists, not from the first event's end: the
        # program's open files stay the same for months, so a leak stands out.
        self.index.open()
        resolve(self.store, self.index, self.cfg.recorder.segment_seconds, time.time())

    def _publish(self, stopped: bool = False) -> None:
        cams: dict[str, MotionCamera] = {}
        for w in self.watches:
            st = w.status()
            st["open"] = st["open"] and not stopped
            cams[str(w.camera)] = st
        doc: MotionStatus = {
            "pid": 0 if stopped else os.getpid(), "cameras": cams,
            "webhook": {"sent": self.webhook.sent, "failed": self.webhook.failed} if self.webhook else None,
            "db_error": self._db_error}
        try:
            self.board.publish_motion(doc, final=stopped)
        except OSError as exc:
            log.warning("status: %s", exc)


def main(argv: list[str] | None = None) -> int:
    cfg, stop = start_service()
    if not cfg.motion.enabled:
        log.info("motion.enabled = false: no motion detection")
        return stop.idle()
    # The events database lives with the recordings: never made on the SD card under an empty mount point.
    if not stop.wait_while(lambda: mount_problem(cfg.recordings_root, cfg.recorder.require_mount),
                           "motion detection", DISK_WAIT_S, log):
        return 0
    service = MotionService(cfg)
    signal.signal(signal.SIGTERM, service.stop)
    signal.signal(signal.SIGINT, service.stop)
    log.info("watching %d camera(s) at %g fps; events in %s", len(service.watches), cfg.motion.analyse_fps,
             service.store.path)
    return service.run()


if __name__ == "__main__":
    sys.exit(main())
