"""The gap log: what happened to a camera's recording, kept across restarts, so each gap
in the recordings can be given its cause.

A short JSON list per camera in the run folder (``gaps-cam{N}.json``): recorder started
and stopped, recording paused and resumed (and by whom), camera restarted, clock steps,
write errors (the first of a run of them), the recordings disk gone and back.
Written only when something happens (rarely); the newest ``MAX_ENTRIES`` are kept.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.state.jsonfile import read_json, write_json_atomic

log = logging.getLogger("state")
MAX_ENTRIES = 200
SLACK_S = 5.0          # an event this close to a gap's ends explains it


def gaps_path(run_dir: Path, camera: int) -> Path:
    return Path(run_dir) / f"gaps-cam{camera}.json"


def read_gaplog(run_dir: Path, camera: int) -> list[dict[str, Any]]:
    """The camera's events, oldest first (a bad file reads as none)."""
    data = read_json(gaps_path(run_dir, camera), list) or []
    return [e for e in data if isinstance(e, dict) and isinstance(e.get("at"), (int, float))
            and isinstance(e.get("event"), str)][-MAX_ENTRIES:]


class GapLog:
    def __init__(self, run_dir: Path, camera: int) -> None:
        self.run_dir, self.camera = Path(run_dir), camera
        self.path = gaps_path(run_dir, camera)
        self._events = read_gaplog(run_dir, camera)

    def add(self, event: str, at: float | None = None, **details: Any) -> None:
        entry = {"at": round(time.time() if at is None else at, 3), "event": event,
                 **{k: v for k, v in details.items() if v not in (None, "")}}
        self._events = ([*self._events, entry])[-MAX_ENTRIES:]
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.path, self._events)
        except OSError as exc:
            log.warning("gap log: cannot write %s: %s", self.path, exc)


# What explains a gap, most telling first: the events that say it, and how the cause reads.
_CAUSES: list[tuple[tuple[str, ...], Callable[[dict[str, Any]], str]]] = [
    (("clock step",), lambda e: f"clock step ({e.get('step_s', 0):+g} s)"),
    (("recording paused",), lambda e: "paused" + (f" by {e['by']}" if e.get("by") else "")),
    (("disk absent",), lambda e: "the recordings disk was not mounted"),
    (("write error",), lambda e: "write error" + (f" ({e['error']})" if e.get("error") else "")),
    (("recorder started", "recorder stopped"), lambda e: "recorder restarted"),
    (("camera restarted",), lambda e: "camera offline (capture restarted)"),
]


def cause_of(events: list[dict[str, Any]], start: float, end: float) -> str:
    """Why recording stopped between ``start`` and ``end`` (epoch s), if an event says so."""
    near = [e for e in events if start - SLACK_S <= e["at"] <= end + SLACK_S]
    for names, say in _CAUSES:
        for e in near:
            if e["event"] in names:
                return say(e)
    return ""
