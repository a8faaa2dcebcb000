"""The user's settings that every streamer worker and both recorders share.

The default view and resolution, and whether each camera records (a pause says who made
it, from where, when, and until when: an expired pause reads as recording).  One JSON file
in ``paths.run_dir``, changed under an exclusive ``flock`` (released by the kernel if the
holder dies) and replaced atomically; a bad file (see :mod:`common.state.jsonfile`) reads
as the defaults and is rewritten.

A pause lasts what it was given, whatever the wall clock does meanwhile: its end is kept
on the boot clock as well (:func:`common.clock.since_boot`), and read back as a wall time
of now.  Its ``until`` (the end in wall time, what an older reader of the file judges by)
counts only for a pause taken before the last boot.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, TypeGuard

from common.clock import boot_id, since_boot
from common.config import SCHEMA
from common.state.jsonfile import FileLock, load_json, note_bad, read_json, write_json_atomic

log = logging.getLogger("state")
CONTROLS_FILE = "controls.json"


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _pause_end(pause: dict[str, Any], now: float) -> float | None:
    """When ``pause`` ends, in wall time at ``now`` (``time.time()``); None when it lasts until resumed."""
    until = pause.get("until")
    if not _number(until):
        return None
    ends = pause.get("until_boot_s")
    if boot_id() and pause.get("boot") == boot_id() and _number(ends):
        return now + ends - since_boot()
    return float(until)   # taken before this boot: its wall time is all there is


def _with_boot_end(pause: dict[str, Any]) -> dict[str, Any]:
    """A new pause, its end also on the boot clock."""
    out = dict(pause)
    if _number(out.get("until")):
        out["until_boot_s"] = round(since_boot() + out["until"] - time.time(), 3)
        out["boot"] = boot_id()
    return out


def describe_pause(pause: dict[str, Any] | None) -> str:
    """Who paused and until when, for a log line: ' by boss from 192.168.1.20 until 15:02'."""
    if not pause:
        return ""
    until = pause.get("until")
    end = time.strftime("%H:%M", time.localtime(until)) if _number(until) else "resumed"
    return f" by {pause.get('by', '?')} from {pause.get('from', '?')} until {end}"


class Controls:
    """The user's settings shared by all streamer workers and the recorders."""

    def __init__(self, run_dir: Path, default_view: str = "dual", default_resolution: str = "480p",
                 cameras: int = 2) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / CONTROLS_FILE
        self._lock = FileLock(self.run_dir / (CONTROLS_FILE + ".lock"))
        self.defaults: dict[str, Any] = {
            "view": default_view,
            "resolution": default_resolution,
            "recording": {str(cam): True for cam in range(cameras)},
            "changed_by": "",      # who changed the recording flags last (an address)
            "paused": {},          # camera -> {"by", "from", "at", "until"} while its recording is paused
        }
        self._cache: dict[str, Any] | None = None
        self._cache_key: tuple[int, int] | None = None

    def _merged(self, stored: Any) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(json.dumps(self.defaults))
        if isinstance(stored, dict):
            for key in ("view", "resolution"):
                value = stored.get(key)
                # Only values the configuration allows: a bad one must not make every default request fail.
                if SCHEMA["streamer"][f"default_{key}"].allows(value):
                    data[key] = value
            if isinstance(stored.get("changed_by"), str):
                data["changed_by"] = stored["changed_by"][:100]
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
        """A pause past its end has ended by itself: the camera records again.  The others'
        ``until`` is their end on the wall clock of ``now`` (it moves when the clock steps)."""
        for cam, pause in list(data["paused"].items()):
            ends = _pause_end(pause, now)
            if data["recording"].get(cam, True) or (ends is not None and ends <= now):
                data["recording"][cam] = True
                del data["paused"][cam]
            elif ends is not None:
                pause["until"] = round(ends, 3)
        return data

    def get(self) -> dict[str, Any]:
        """Current settings; re-read only when the file changed (one stat per call)."""
        try:
            st = os.stat(self.path)
            key = (st.st_mtime_ns, st.st_ino)
        except OSError:
            return self._merged(None)
        if key != self._cache_key or self._cache is None:
            loaded = load_json(self.path)
            merged = self._merged(loaded.data)
            if loaded.problem:
                self._repair()
            elif isinstance(loaded.data, dict) and {k: loaded.data.get(k) for k in merged} != merged:
                note_bad(self.path, "holds values that are missing or not allowed")
                self._repair()
            self._cache = merged
            self._cache_key = key
        return self._expire(json.loads(json.dumps(self._cache)), time.time())

    def _repair(self) -> None:
        """Replace an unusable file with the defaults (unless another process just fixed it)."""
        try:
            with self._lock.held():
                loaded = load_json(self.path)
                merged = self._merged(loaded.data)
                # Gone since (None) is rewritten too: a missing file reads as these defaults anyway.
                if not isinstance(loaded.data, dict) or {k: loaded.data.get(k) for k in merged} != merged:
                    write_json_atomic(self.path, merged)
        except OSError as exc:
            log.warning("state file %s: cannot rewrite it: %s", self.path, exc)

    def update(self, view: str | None = None, resolution: str | None = None,
               recording: dict[int, bool] | None = None, by: str | None = None,
               pause: dict[str, Any] | None = None) -> dict[str, Any]:
        """``pause``: who paused (``by``, ``from``, ``at``, ``until``), kept with each camera
        ``recording`` turns off; turning a camera on drops its pause."""
        with self._lock.held():
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
                    data["paused"][str(cam)] = _with_boot_end(pause or {})
            if by is not None:
                data["changed_by"] = by[:100]
            write_json_atomic(self.path, data)
        return data

    def recording_enabled(self, camera: int) -> bool:
        return bool(self.get()["recording"].get(str(camera), True))
