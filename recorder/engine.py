"""What both recording engines share: set-up, the loop's timers, pause, errors and status.

:class:`~recorder.recording.Recorder` (PyAV, fed by the ring) and
:class:`~recorder.rpicam.RpicamRecorder` (rpicam-vid) differ only in how segments are made;
retention (a thread of its own, :mod:`recorder.retention.worker`), the pause flag, the expected
mount, the bounded histories and the status document are the same.
"""
from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from common.archive.gaplog import GapLog
from common.archive.mount import mount_problem
from common.config import Config
from common.state.board import StatusBoard
from common.state.controls import Controls, describe_pause
from common.state.documents import EngineStatus, RecorderState, RecorderStatus, SegmentEntry, recorder_status_name
from recorder.retention.diskguard import DiskGuard, free_bytes_of
from recorder.retention.policy import Limits
from recorder.retention.worker import RetentionWorker
from recorder.segments.indexer import Indexer
from recorder.segments.segmenter import Segmenter, local_time

log = logging.getLogger("recorder")

CONTROLS_EVERY_S = 0.25  # how often the pause flag and the expected mount are looked at
WAIT_S = 0.1             # the pace of the wait for the recordings disk at start
STATUS_EVERY_S = 1.0     # how often the status document is published
HISTORY = 20             # entries kept in each status list


class RecorderEngine(ABC):
    """Set-up and bookkeeping of one camera's recorder; subclasses make the segments."""

    engine = ""          # the status document's name for it

    def __init__(self, cfg: Config, camera: int, align: bool, local: Callable[[int], datetime] = local_time,
                 free_bytes: Callable[[Path], int] = free_bytes_of) -> None:
        rc = cfg.recorder
        self.cfg, self.camera = cfg, camera
        self.root = cfg.recordings_root
        self.fps = cfg.camera.fps
        self.segmenter = Segmenter(camera, rc.segment_seconds, align, self.fps, local)
        self.guard = DiskGuard(self.root, Limits.of(rc), free_bytes=free_bytes)
        self.disk_absent = ""   # why the recordings disk may not be written (recorder.require_mount); "" if it may
        # started by run(), once the disk is there; idle while it is not (the guard would make the root)
        self.retention = RetentionWorker(self.guard, rc.check_seconds, may_run=lambda: not self.disk_absent)
        self.controls = Controls(cfg.run_dir, cfg.streamer.default_view, cfg.streamer.default_resolution,
                                 cfg.camera.count)
        self.board = StatusBoard.for_config(cfg)
        self.status_name = recorder_status_name(camera)
        self.stopping = False
        self.began_wall = time.time()   # this process's start, for the status's started_at
        self.enabled = True
        self.segments_written = 0
        self.frames_written = 0
        self.last_error = ""
        self.last_error_code = ""
        self.last_error_at: float | None = None
        self.recent: deque[SegmentEntry] = deque(maxlen=HISTORY)
        self.recovered: deque[SegmentEntry] = deque(maxlen=HISTORY)
        self.gaplog = GapLog(cfg.run_dir, camera)   # causes of gaps, kept across restarts
        self.indexer = Indexer(self.root, f"cam{camera}")   # finished segments into the archive index
        self._next_controls = self._next_status = 0.0

    def stop(self, *_: object) -> None:
        self.stopping = True

    # -- the loop's periodic duties ----------------------------------------------------------
    def tick(self, now: float) -> None:
        """Follow the pause flag and publish status, each when due (retention has its own thread)."""
        if now >= self._next_controls:
            self._next_controls = now + CONTROLS_EVERY_S
            self._follow_controls()
            self._follow_mount()
        if now >= self._next_status:
            self._next_status = now + STATUS_EVERY_S
            self.publish()

    def _follow_controls(self) -> None:
        enabled = self.controls.recording_enabled(self.camera)
        if enabled != self.enabled:
            controls = self.controls.get()
            pause = None if enabled else controls["paused"].get(str(self.camera))
            log.info("camera %d: recording %s%s", self.camera, "resumed" if enabled else "paused",
                     describe_pause(pause))
            self.gaplog.add("recording resumed" if enabled else "recording paused",
                            by=controls.get("changed_by", ""))
            if not enabled:
                self.pausing("paused")
            self.enabled = enabled

    def _follow_mount(self) -> None:
        """Stop writing while the recordings disk is not where ``recorder.require_mount`` says,
        and go on by itself once it is; each change is logged once and kept in the gap log."""
        problem = mount_problem(self.root, self.cfg.recorder.require_mount)
        if problem == self.disk_absent:
            return
        if problem:
            self.note_error(f"not recording: {problem}", "disk_absent")
            self.gaplog.add("disk absent", why=problem)
            self.pausing("the recordings disk went away")
        else:
            log.info("camera %d: the recordings disk is there again: recording", self.camera)
            self.gaplog.add("disk back")
        self.disk_absent = problem

    def disk_present(self) -> bool:
        """Looked at again right before folders are made (a new segment): the disk may have
        gone since the last tick, and nothing is ever made on the SD card under its mount point."""
        self._follow_mount()
        return not self.disk_absent

    @property
    def may_record(self) -> bool:
        """Recording is on and its disk is there."""
        return self.enabled and not self.disk_absent

    def wait_for_disk(self) -> bool:
        """At start, before anything touches the recordings root: wait while its disk is absent
        (the status says why); False when stopped meanwhile."""
        self._follow_mount()
        while self.disk_absent and not self.stopping:
            time.sleep(WAIT_S)
            self.tick(time.monotonic())
        return not self.stopping

    def pausing(self, why: str) -> None:  # noqa: B027 (an engine with nothing open keeps it)
        """Recording was just paused, or its disk went away (``why``): end what is being written."""

    def reconcile(self) -> float:
        """At start: make the archive index agree with this camera's files (a crash may have
        left a segment finished but not in the index); returns the modification time of the
        camera's newest segment, where write order goes on."""
        self.indexer.index.refresh(self.camera, full=True)
        return self.indexer.index.newest_written(self.camera)

    def segment_done(self, path: Path, start: float, duration: float | None, size: int) -> None:
        """A segment got its final name: ``start`` in epoch seconds (its first frame, by the
        capture clock), ``duration`` in seconds; into the archive index, and retention's clock."""
        self.indexer.finished(path, self.camera, start, duration, size)
        self.guard.saw_segment(start + (duration or 0.0))

    # -- errors and status -------------------------------------------------------------------
    def note_error(self, message: str, code: str = "failed") -> None:
        """The last error, shown in status (and so on the page) and logged; ``code`` (a
        ``recerror.*`` key of the message catalogue) lets the page say it in its language."""
        self.last_error, self.last_error_code, self.last_error_at = message, code, round(time.time(), 3)
        log.error("camera %d: %s", self.camera, message)

    @abstractmethod
    def state(self) -> RecorderState:
        """recording, paused, waiting... for status and the page."""

    @abstractmethod
    def engine_status(self) -> EngineStatus:
        """The engine's own fields: recording, encoder, current_file, frames_dropped..."""

    def status(self) -> RecorderStatus:
        doc: RecorderStatus = {
            "camera": self.camera, "pid": os.getpid(), "engine": self.engine, "state": self.state(),
            "enabled": self.enabled, "segment_seconds": self.cfg.recorder.segment_seconds,
            "segments_written": self.segments_written, "frames_written": self.frames_written,
            "last_error": self.last_error, "last_error_code": self.last_error_code,
            "last_error_at": self.last_error_at, "started_at": self.began_wall,
            "recovered_files": list(self.recovered), "recent_segments": list(self.recent),
            **self.guard.status(),
            **self.engine_status(),   # type: ignore[typeddict-item]  # mypy wants the board's NotRequired keys
        }
        if self.disk_absent and self.enabled:
            doc["state"], doc["waiting_for"] = "waiting", self.disk_absent
        return doc

    def publish(self, final: bool = False) -> None:
        doc = self.status()
        if final:
            doc["state"], doc["recording"], doc["current_file"] = "stopped", False, None
            if "waiting_for" in doc:
                doc["waiting_for"] = ""
        try:
            self.board.publish_recorder(self.camera, doc, final)
        except OSError as exc:
            log.warning("status: cannot publish: %s", exc)
