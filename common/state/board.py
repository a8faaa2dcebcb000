"""Status documents: each process publishes one JSON document, the streamer reads them all.

The recorders and the motion process publish once a second, the capture processes and the
streamer when something changes.  Readers see either the old or the new document, never
half of one (atomic replace), and learn its age.

Where: a document published every second is kept in memory while its producer runs
(:mod:`common.state.volatile`, named after the ring prefix), since an SD card would be
rewritten 86,400 times a day for it; the producer's last document when it stops is written
once to ``paths.run_dir`` and leaves memory, so a stopped installation leaves nothing in
memory and what it last said survives a reboot.  The other documents are files in
``paths.run_dir`` (a capture's error outlives its process).  Their names and keys are
declared in :mod:`common.state.documents`; the typed reads below keep only what matches them.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from common.config import Config
from common.state.conform import UNFIT, conform
from common.state.documents import (
    LAST_CAMERA,
    LAST_CONTROL,
    MOTION_STATUS,
    OFFSITE_STATUS,
    CaptureStatus,
    LastCamera,
    LastControl,
    MotionStatus,
    OffsiteStatus,
    RecorderStatus,
    capture_status_name,
    every_second,
    recorder_status_name,
)
from common.state.jsonfile import make_private_dir, note_bad, read_json, write_json_atomic
from common.state.volatile import volatile_dir

__all__ = ["StatusBoard", "capture_status_name", "recorder_status_name"]
Doc = TypeVar("Doc")


def _stamped(data: Any) -> dict[str, Any] | None:
    """A stored document with ``age_s`` added, or None when it is no JSON object."""
    if not isinstance(data, dict):
        return None
    published = data.get("published_at")
    if not isinstance(published, (int, float)) or isinstance(published, bool):
        published = 0.0
    data["age_s"] = max(0.0, time.time() - float(published))
    return data


class StatusBoard:
    """Named JSON status documents: ``status-<name>.json`` in the run folder, and for those
    published every second, ``<prefix>status-<name>.json`` in the memory folder while their
    producer runs.

    ``memory``: that folder (:func:`~common.state.volatile.volatile_dir` when not given)."""

    def __init__(self, run_dir: Path, prefix: str, memory: Path | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.prefix = prefix
        self.memory = volatile_dir(self.run_dir) if memory is None else Path(memory)

    @classmethod
    def for_config(cls, cfg: Config) -> StatusBoard:
        return cls(cfg.run_dir, cfg.ring.prefix)

    def kept_path(self, name: str) -> Path:
        """Where the document lives in the run folder (the last one of a stopped producer)."""
        return self.run_dir / f"status-{name}.json"

    def memory_path(self, name: str) -> Path:
        """Where a document published every second lives while its producer runs."""
        return self.memory / f"{self.prefix}status-{name}.json"

    def publish(self, name: str, status: Mapping[str, object], final: bool = False) -> None:
        """``final``: the producer stops; its last word is kept in the run folder."""
        doc = {**status, "published_at": time.time()}
        path = self.memory_path(name) if every_second(name) and not final else self.kept_path(name)
        make_private_dir(path.parent)
        write_json_atomic(path, doc)
        if final and every_second(name):
            try:
                self.memory_path(name).unlink()
            except FileNotFoundError:
                pass

    def _load(self, name: str) -> tuple[Path, Any]:
        """The file a document was read from, and what it holds (None when missing or bad)."""
        if every_second(name):
            path = self.memory_path(name)
            # The memory folder is one every local user may write to: only this user's files are read.
            data = read_json(path, mine=True)
            if data is not None:
                return path, data
        path = self.kept_path(name)
        return path, read_json(path)

    def read(self, name: str) -> dict[str, Any] | None:
        """The document as stored, with ``age_s`` (seconds since it was published), or None."""
        return _stamped(self._load(name)[1])

    def _read_as(self, name: str, shape: type[Doc]) -> Doc | None:
        """The document with only the keys that match ``shape``; what was left out is logged
        once per version of the file."""
        path, stored = self._load(name)
        data = _stamped(stored)
        if data is None:
            return None
        problems: list[str] = []
        kept = conform(data, shape, problems)
        if problems:
            note_bad(path, "left out what does not match its type: " + "; ".join(problems))
        return None if kept is UNFIT else cast(Doc, kept)

    def read_capture(self, camera: int) -> CaptureStatus | None:
        return self._read_as(capture_status_name(camera), CaptureStatus)

    def read_recorder(self, camera: int) -> RecorderStatus | None:
        return self._read_as(recorder_status_name(camera), RecorderStatus)

    def read_motion(self) -> MotionStatus | None:
        return self._read_as(MOTION_STATUS, MotionStatus)

    def read_offsite(self) -> OffsiteStatus | None:
        return self._read_as(OFFSITE_STATUS, OffsiteStatus)

    def read_last_control(self) -> LastControl | None:
        return self._read_as(LAST_CONTROL, LastControl)

    def read_last_camera(self) -> LastCamera | None:
        return self._read_as(LAST_CAMERA, LastCamera)

    def publish_capture(self, camera: int, status: CaptureStatus) -> None:
        self.publish(capture_status_name(camera), status)

    def publish_recorder(self, camera: int, status: RecorderStatus, final: bool = False) -> None:
        self.publish(recorder_status_name(camera), status, final)

    def publish_motion(self, status: MotionStatus, final: bool = False) -> None:
        self.publish(MOTION_STATUS, status, final)

    def publish_offsite(self, status: OffsiteStatus, final: bool = False) -> None:
        self.publish(OFFSITE_STATUS, status, final)

    def publish_last_control(self, control: LastControl) -> None:
        self.publish(LAST_CONTROL, control)

    def publish_last_camera(self, camera: LastCamera) -> None:
        self.publish(LAST_CAMERA, camera)
