"""Small state that several processes share and that must survive their restarts.

* :class:`Controls`: what users set through the streamer: the default view and
  resolution, and whether each camera records (a pause says who made it, from where,
  when, and until when: an expired pause reads as recording).  One JSON file, changed under an
  exclusive ``flock`` (released by the kernel if the holder dies) and replaced atomically.
* :class:`StatusBoard`: each process publishes a JSON status document (the recorders do,
  once a second); readers see either the old or the new document, never half of one.

Both live in ``paths.run_dir`` (made 0700), their files 0600: other local users read
nothing.  Files, not shared-memory segments, because they must survive ``supervisorctl
stop all`` and a reboot, and are read at most a few times a second.
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


PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """A file descriptor for a file only this user can read (mode 0600 when created)."""
    return os.open(path, flags | os.O_CLOEXEC, PRIVATE_FILE)


def make_private_dir(path: Path) -> None:
    """Make ``path`` 0700 if missing; an existing folder keeps its mode (it may be shared, as /tmp)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file in the same folder, then rename over the target."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with os.fdopen(open_private(tmp), "w") as fh:
        json.dump(data, fh, separators=(",", ":"))
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def describe_pause(pause: dict[str, Any] | None) -> str:
    """Who paused and until when, for a log line: ' by boss from 192.168.1.20 until 15:02'."""
    if not pause:
        return ""
    until = pause.get("until")
    end = time.strftime("%H:%M", time.localtime(until)) if isinstance(until, (int, float)) else "resumed"
    return f" by {pause.get('by', '?')} from {pause.get('from', '?')} until {end}"


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
            "paused": {},   # camera -> {"by", "from", "at", "until"} while its recording is paused
        }
        self._cache: dict[str, Any] | None = None
        self._cache_key: tuple[int, int] | None = None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        make_private_dir(self.run_dir)
        with os.fdopen(open_private(self._lock_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "a") as fh:
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
            if isinstance(stored.get("paused"), dict):
                data["paused"] = {cam: p for cam, p in stored["paused"].items()
                                  if cam in data["recording"] and isinstance(p, dict)}
        return data

    @staticmethod
    def _expire(data: dict[str, Any], now: float) -> dict[str, Any]:
        """A pause past its ``until`` has ended by itself: the camera records again."""
        for cam, pause in list(data["paused"].items()):
            until = pause.get("until")
            if data["recording"].get(cam, True) or (isinstance(until, (int, float)) and until <= now):
                data["recording"][cam] = True
                del data["paused"][cam]
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
        return self._expire(json.loads(json.dumps(self._cache)), time.time())

    def update(self, view: str | None = None, resolution: str | None = None,
               recording: dict[int, bool] | None = None,
               pause: dict[str, Any] | None = None) -> dict[str, Any]:
        """``pause``: who paused (``by``, ``from``, ``at``, ``until``), kept with each camera
        ``recording`` turns off; turning a camera on drops its pause."""
        with self._locked():
            data = self._expire(self._merged(read_json(self.path)), time.time())
            if view is not None:
                data["view"] = view
            if resolution is not None:
                data["resolution"] = resolution
            for cam, on in (recording or {}).items():
                data["recording"][str(cam)] = bool(on)
                if on:
                    data["paused"].pop(str(cam), None)
                else:
                    data["paused"][str(cam)] = dict(pause or {})
            write_json_atomic(self.path, data)
        return data

    def recording_enabled(self, camera: int) -> bool:
        return bool(self.get()["recording"].get(str(camera), True))


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
        data["age_s"] = max(0.0, time.time() - float(data.get("published_at", 0)))
        return data
