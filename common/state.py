"""Small state that several processes share and that must survive their restarts.

* :class:`Controls`: what users set through the streamer: the default view and
  resolution, and whether each camera records.  One JSON file, changed under an
  exclusive ``flock`` (released by the kernel if the holder dies) and replaced atomically.
* :class:`StatusBoard`: each process publishes a JSON status document (the recorders do,
  once a second); readers see either the old or the new document, never half of one.

Both live in ``paths.run_dir``.  Files, not shared-memory segments, because they must
survive ``supervisorctl stop all`` and a reboot, and are read at most a few times a second.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

CONTROLS_FILE = "controls.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file in the same folder, then rename over the target."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, separators=(",", ":"))
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class Controls:
    """The user's settings shared by all streamer workers and the recorders."""

    def __init__(self, run_dir: Path, default_view: str = "dual", default_resolution: str = "480p",
                 cameras: int = 2) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / CONTROLS_FILE
        self._lock_path = self.run_dir / (CONTROLS_FILE + ".lock")
        self.defaults: dict[str, Any] = {
            "view": default_view,
            "resolution": default_resolution,
            "recording": {str(cam): True for cam in range(cameras)},
        }
        self._cache: dict[str, Any] | None = None
        self._cache_key: tuple[int, int] | None = None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _merged(self, stored: Any) -> dict[str, Any]:
        data = json.loads(json.dumps(self.defaults))
        if isinstance(stored, dict):
            for key in ("view", "resolution"):
                if isinstance(stored.get(key), str):
                    data[key] = stored[key]
            if isinstance(stored.get("recording"), dict):
                for cam, on in stored["recording"].items():
                    if cam in data["recording"] and isinstance(on, bool):
                        data["recording"][cam] = on
        return data

    def get(self) -> dict[str, Any]:
        """Current settings; re-read only when the file changed (one stat per call)."""
        try:
            st = os.stat(self.path)
            key = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            return self._merged(None)
        if key != self._cache_key or self._cache is None:
            self._cache = self._merged(read_json(self.path))
            self._cache_key = key
        return json.loads(json.dumps(self._cache))

    def update(self, view: str | None = None, resolution: str | None = None,
               recording: dict[int, bool] | None = None) -> dict[str, Any]:
        with self._locked():
            data = self._merged(read_json(self.path))
            if view is not None:
                data["view"] = view
            if resolution is not None:
                data["resolution"] = resolution
            for cam, on in (recording or {}).items():
                data["recording"][str(cam)] = bool(on)
            write_json_atomic(self.path, data)
        return data

    def recording_enabled(self, camera: int) -> bool:
        return bool(self.get()["recording"].get(str(camera), True))


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
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self._path(name), {**status, "published_at": time.time()})

    def read(self, name: str) -> dict[str, Any] | None:
        """The document, with ``age_s`` (seconds since it was published), or None."""
        data = read_json(self._path(name))
        if not isinstance(data, dict):
            return None
        data["age_s"] = max(0.0, time.time() - float(data.get("published_at", 0)))
        return data
