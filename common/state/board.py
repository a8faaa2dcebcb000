"""Status documents: each process publishes one JSON document, the streamer reads them all.

The recorders publish once a second, the capture processes when their state changes.
Readers see either the old or the new document, never half of one (atomic replace), and
learn its age.  Files in ``paths.run_dir``, not shared memory: they survive
``supervisorctl stop all`` and a reboot, and are read at most a few times a second.
The documents' names and keys are declared in :mod:`common.state.documents`; the typed
reads below keep only what matches them.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from common.state.conform import UNFIT, conform
from common.state.documents import (
    LAST_CAMERA,
    LAST_CONTROL,
    MOTION_STATUS,
    CaptureStatus,
    LastCamera,
    LastControl,
    MotionStatus,
    RecorderStatus,
    capture_status_name,
    recorder_status_name,
)
from common.state.jsonfile import make_private_dir, note_bad, read_json, write_json_atomic

__all__ = ["StatusBoard", "capture_status_name", "recorder_status_name"]
Doc = TypeVar("Doc")


class StatusBoard:
    """Named JSON status documents in the run folder (``status-<name>.json``)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def _path(self, name: str) -> Path:
        return self.run_dir / f"status-{name}.json"

    def publish(self, name: str, status: Mapping[str, object]) -> None:
        make_private_dir(self.run_dir)
        write_json_atomic(self._path(name), {**status, "published_at": time.time()})

    def read(self, name: str) -> dict[str, Any] | None:
        """The document as stored, with ``age_s`` (seconds since it was published), or None."""
        data = read_json(self._path(name))
        if not isinstance(data, dict):
            return None
        published = data.get("published_at")
        if not isinstance(published, (int, float)) or isinstance(published, bool):
            published = 0.0
        data["age_s"] = max(0.0, time.time() - float(published))
        return data

    def _read_as(self, name: str, shape: type[Doc]) -> Doc | None:
        """The document with only the keys that match ``shape``; what was left out is logged
        once per version of the file."""
        data = self.read(name)
        if data is None:
            return None
        problems: list[str] = []
        kept = conform(data, shape, problems)
        if problems:
            note_bad(self._path(name), "left out what does not match its type: " + "; ".join(problems))
        return None if kept is UNFIT else cast(Doc, kept)

    def read_capture(self, camera: int) -> CaptureStatus | None:
        return self._read_as(capture_status_name(camera), CaptureStatus)

    def read_recorder(self, camera: int) -> RecorderStatus | None:
        return self._read_as(recorder_status_name(camera), RecorderStatus)

    def read_motion(self) -> MotionStatus | None:
        return self._read_as(MOTION_STATUS, MotionStatus)

    def read_last_control(self) -> LastControl | None:
        return self._read_as(LAST_CONTROL, LastControl)

    def read_last_camera(self) -> LastCamera | None:
        return self._read_as(LAST_CAMERA, LastCamera)

    def publish_capture(self, camera: int, status: CaptureStatus) -> None:
        self.publish(capture_status_name(camera), status)

    def publish_recorder(self, camera: int, status: RecorderStatus) -> None:
        self.publish(recorder_status_name(camera), status)

    def publish_motion(self, status: MotionStatus) -> None:
        self.publish(MOTION_STATUS, status)

    def publish_last_control(self, control: LastControl) -> None:
        self.publish(LAST_CONTROL, control)

    def publish_last_camera(self, camera: LastCamera) -> None:
        self.publish(LAST_CAMERA, camera)
