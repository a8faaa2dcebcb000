"""What both recording engines share: set-up, the loop's timers, pause, errors and status.

:class:`~recorder.recording.Recorder` (PyAV, fed by the ring) and
:class:`~recorder.rpicam.RpicamRecorder` (rpicam-vid) differ only in how segments are made;
the disk guard, the pause flag, the bounded histories and the status document are the same.
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
from common.config import Config
from common.state.board import StatusBoard
from common.state.controls import Controls, describe_pause
from common.state.documents import EngineStatus, RecorderState, RecorderStatus, SegmentEntry, recorder_status_name
from recorder.retention.diskguard import DiskGuard, free_bytes_of
from recorder.segments.indexer import Indexer
from recorder.segments.segmenter import Segmenter, local_time

log = logging.getLogger("recorder")

CONTROLS_EVERY_S = 0.25  # how often the pause flag is read
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
        self.guard = DiskGuard(self.root, rc.disk_warn_gb, rc.free_floor_gb, rc.free_target_gb, rc.retention,
                               rc.quota_gb, rc.max_age_days, free_bytes=free_bytes,
                               event_keep_days=rc.event_keep_days)
        self.controls = Controls(cfg.run_dir, cfg.streamer.default_view, cfg.streamer.default_resolution,
                                 cfg.camera.count)
        self.board = StatusBoard.for_config(cfg)
        self.status_name = recorder_status_name(camera)
        self.stopping = False
        self.enabled = True
        self.segments_written = 0
        self.frames_written = 0
        self.last_error = ""
        self.last_error_at: float | None = None
        self.recent: deque[SegmentEntry] = deque(maxlen=HISTORY)
        self.recovered: deque[SegmentEntry] = deque(maxlen=HISTORY)
        self.gaplog = GapLog(cfg.run_dir, camera)   # causes of gaps, kept across restarts
        self.indexer = Indexer(self.root)           # finished segments into the archive index
        self._next_controls = self._next_disk = self._next_status = 0.0

    def stop(self, *_: object) -> None:
        self.stopping = True

    # -- the loop's periodic duties ----------------------------------------------------------
    def tick(self, now: float) -> None:
        """Follow the pause flag, run the disk guard and publish status, each when due."""
        if now >= self._next_controls:
            self._next_controls = now + CONTROLS_EVERY_S
            self._follow_controls()
        if now >= self._next_disk:
            self._next_disk = now + self.cfg.recorder.check_seconds
            self.guard.check()
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
                self.pausing()
            self.enabled = enabled

    def pausing(self) -> None:  # noqa: B027 (an engine with nothing open keeps it)
        """Recording was just paused: end what is being written."""

    def reconcile(self) -> float:
        """At start: make the archive index agree with this camera's files (a crash may have
        left a segment finished but not in the index); returns the modification time of the
        camera's newest segment, where write order goes on."""
        self.indexer.index.refresh(self.camera, full=True)
        return self.indexer.index.newest_written(self.camera)

    # -- errors and status -------------------------------------------------------------------
    def note_error(self, message: str) -> None:
        """The last error, shown in status (and so on the page) and logged."""
        self.last_error, self.last_error_at = message, round(time.time(), 3)
        log.error("camera %d: %s", self.camera, message)

    @abstractmethod
    def state(self) -> RecorderState:
        """recording, paused, waiting... for status and the page."""

    @abstractmethod
    def engine_status(self) -> EngineStatus:
        """The engine's own fields: recording, encoder, current_file, frames_dropped..."""

    def status(self) -> RecorderStatus:
        g = self.guard.state
        return {
            "camera": self.camera, "pid": os.getpid(), "engine": self.engine, "state": self.state(),
            "enabled": self.enabled, "segment_seconds": self.cfg.recorder.segment_seconds,
            "segments_written": self.segments_written, "frames_written": self.frames_written,
            "last_error": self.last_error, "last_error_at": self.last_error_at,
            "disk_free_bytes": g.free_bytes, "disk_warning": g.warning, "disk_error": g.error,
            "retention": self.cfg.recorder.retention, "retention_deleted_count": g.deleted_count,
            "retention_deleted_bytes": g.deleted_bytes, "retention_deleted": list(self.guard.deleted),
            "retention_state": g.retention, "retention_undeletable": g.undeletable,
            "recovered_files": list(self.recovered), "recent_segments": list(self.recent),
            **self.engine_status(),   # type: ignore[typeddict-item]  # mypy wants the board's NotRequired keys
        }

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
