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

from common.i18n import DEFAULT, Term, text
from common.state.jsonfile import make_private_dir, read_json, write_json_atomic

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
            make_private_dir(self.run_dir)   # it holds the session key too: 0700 whoever makes it first
            write_json_atomic(self.path, self._events)
        except OSError as exc:
            log.warning("gap log: cannot write %s: %s", self.path, exc)


# What explains a gap, most telling first: the events that say it, and the cause's catalogue
# key ("gap.<code>" in common/i18n) with what fills it in.
_CAUSES: list[tuple[tuple[str, ...], Callable[[dict[str, Any]], Term]]] = [
    (("clock step",), lambda e: Term.of("gap.clock_step", step=f"{e.get('step_s', 0):+g}")),
    (("recording paused",), lambda e: Term.of("gap.paused_by", by=e["by"]) if e.get("by") else Term("gap.paused")),
    (("disk absent",), lambda e: Term("gap.disk_absent")),
    (("write error",), lambda e: Term.of("gap.write_error", detail=e["error"]) if e.get("error")
     else Term("gap.write_error_plain")),
    (("recorder started", "recorder stopped"), lambda e: Term("gap.recorder_restarted")),
    (("camera restarted",), lambda e: Term("gap.camera_restarted")),
]


def cause_term(events: list[dict[str, Any]], start: float, end: float) -> Term | None:
    """Why recording stopped between ``start`` and ``end`` (epoch s), if an event says so."""
    near = [e for e in events if start - SLACK_S <= e["at"] <= end + SLACK_S]
    for names, say in _CAUSES:
        for e in near:
            if e["event"] in names:
                return say(e)
    return None


def cause_of(events: list[dict[str, Any]], start: float, end: float) -> str:
    """The cause in English ('' when unknown)."""
    term = cause_term(events, start, end)
    return "" if term is None else text(DEFAULT, term.key, **dict(term.params))


def cause_fields(events: list[dict[str, Any]], start: float, end: float, lang: str = DEFAULT) -> dict[str, Any]:
    """A gap's ``cause`` (English), ``cause_code`` and ``cause_text`` (in ``lang``)."""
    term = cause_term(events, start, end)
    if term is None:
        return {"cause": "", "cause_code": None, "cause_text": ""}
    return {"cause": text(DEFAULT, term.key, **dict(term.params)), "cause_code": term.key.removeprefix("gap."),
            "cause_text": text(lang, term.key, **dict(term.params))}
