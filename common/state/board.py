"""Status documents: each process publishes one JSON document, the streamer reads them all.

The recorders publish once a second, the capture processes when their state changes.
Readers see either the old or the new document, never half of one (atomic replace), and
learn its age.  Files in ``paths.run_dir``, not shared memory: they survive
``supervisorctl stop all`` and a reboot, and are read at most a few times a second.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common.state.jsonfile import make_private_dir, read_json, write_json_atomic


def capture_status_name(camera: int) -> str:
    """The capture process's document: state (starting, live, not connected, off, error), reason."""
    return f"capture-cam{camera}"


class StatusBoard:
    """Named JSON status documents in the run folder (``status-<name>.json``)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def _path(self, name: str) -> Path:
        return self.run_dir / f"status-{name}.json"

    def publish(self, name: str, status: dict[str, Any]) -> None:
        make_private_dir(self.run_dir)
        write_json_atomic(self._path(name), {**status, "published_at": time.time()})

    def read(self, name: str) -> dict[str, Any] | None:
        """The document, with ``age_s`` (seconds since it was published), or None."""
        data = read_json(self._path(name))
        if not isinstance(data, dict):
            return None
        published = data.get("published_at")
        if not isinstance(published, (int, float)) or isinstance(published, bool):
            published = 0.0
        data["age_s"] = max(0.0, time.time() - float(published))
        return data
