"""Motion events API (the motion process writes them; this only reads).

* ``GET /api/events?camera=N&date=YYMMDD``: one day's events (today when ``date`` is left
  out; both cameras when ``camera`` is), newest first, each with where to play it: the
  segment that holds the event's start (less ``motion.pre_seconds``) and the offset in it.
* ``GET /api/events/live``: which cameras have an event open now (the page's MOTION badge).
* ``GET /api/events/{id}`` and ``GET /api/events/{id}/thumbnail.jpg``.

Bad parameters get the recordings API's 400 shape; an unknown event a 404.  Handlers are
plain ``def``: SQLite reads run in the thread pool, off the event loop.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from common.archive import events as store
from common.archive.index import ArchiveIndex
from common.config import Config
from common.state.board import StatusBoard
from streamer.archive.recordings import archive_of, list_segments
from streamer.params import ParamError, ParamValueError, not_found, parse_camera, parse_date

router = APIRouter()
LIVE_MAX_AGE_S = 3.0   # a motion status older than this means the motion process is not running
MAX_ID = 2**62
T = TypeVar("T")


def _cfg(request: Request) -> Config:
    cfg: Config = request.app.state.cfg
    return cfg


def _unavailable(exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=503, content={"error": "events unavailable", "reason": str(exc)})


def _day_range(day: str) -> tuple[float, float, datetime]:
    midnight = datetime.strptime(day, "%y%m%d")
    return midnight.timestamp(), (midnight + timedelta(days=1)).timestamp(), midnight


Segments = dict[tuple[int, str], list[dict[str, Any]]]   # (camera, day) -> its segments, as listed


def _play_target(cfg: Config, index: ArchiveIndex, ev: dict[str, Any], cache: Segments) -> dict[str, Any] | None:
    t = ev["start_wall"] - ev["pre_s"]
    day = datetime.fromtimestamp(t).strftime("%y%m%d")
    key = (ev["camera"], day)
    if key not in cache:
        cache[key] = list_segments(index, ev["camera"], day)
    best = None
    for seg in cache[key]:
        end = seg["start_epoch"] + (seg["duration_s"] or cfg.recorder.segment_seconds)
        if seg["start_epoch"] <= t < end:
            best = seg
            break
        if best is None and seg["start_epoch"] > t and seg["start_epoch"] <= ev["last_wall"]:
            best = seg  # the pre-roll falls before the first segment: play from that one's start
    if best is None:
        return None
    return {"file": best["file"], "url": best["url"], "offset_s": round(max(0.0, t - best["start_epoch"]), 3)}


def _decorate(cfg: Config, index: ArchiveIndex, ev: dict[str, Any], cache: Segments) -> dict[str, Any]:
    start = datetime.fromtimestamp(ev["start_wall"])
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    end_wall = ev["end_wall"] if ev["end_wall"] is not None else max(ev["last_wall"], time.time())
    out = dict(ev)
    out.update({
        "start": start.isoformat(timespec="milliseconds"),
        "date": start.strftime("%y%m%d"),
        "start_s": round(ev["start_wall"] - midnight, 3),
        "end_s": round(end_wall - midnight, 3),
        "duration_s": round(end_wall - ev["start_wall"], 3),
        "thumbnail": f"/api/events/{ev['id']}/thumbnail.jpg" if ev["has_thumbnail"] else None,
        "play": _play_target(cfg, index, ev, cache),
    })
    return out


def _parse_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or not 0 < int(raw) < MAX_ID:
        raise ParamValueError("id", raw, ["a positive whole number"],
                              f"invalid event id {raw!r}: expected a positive number")
    return int(raw)


@router.get("/api/events", response_model=None)
def events(request: Request, camera: str | None = None, date: str | None = None) -> dict[str, Any] | JSONResponse:
    cfg = _cfg(request)
    try:
        cam = None if camera is None else parse_camera(cfg, camera)
        day = datetime.now().strftime("%y%m%d") if date is None else parse_date(date)
    except ParamError as exc:
        return exc.response()
    start, end, _ = _day_range(day)
    try:
        conn = store.connect(store.db_path(cfg.recordings_root))
        if conn is None:
            found: list[dict[str, Any]] = []
        else:
            with conn:
                found = store.list_events(conn, cam, start, end)
            conn.close()
    except sqlite3.Error as exc:
        return _unavailable(exc)
    cache: Segments = {}
    index = archive_of(request)
    if found:
        index.refresh()
    return {"camera": cam, "date": day, "pre_seconds": cfg.motion.pre_seconds,
            "events": [_decorate(cfg, index, ev, cache) for ev in found]}


@router.get("/api/events/live")
def events_live(request: Request) -> dict[str, Any]:
    cfg = _cfg(request)
    doc = StatusBoard.for_config(cfg).read_motion()
    running = bool(doc and doc.get("pid") and doc.get("age_s", 1e9) < LIVE_MAX_AGE_S)
    cams = doc.get("cameras", {}) if doc else {}
    out = {}
    for c in range(cfg.camera.count):
        info = cams.get(str(c))
        is_open = bool(running and info is not None and info.get("open"))
        out[str(c)] = {"open": is_open, "event_id": info.get("event_id") if info is not None and is_open else None}
    return {"running": running, "enabled": cfg.motion.enabled, "cameras": out}


def _lookup(request: Request, raw_id: str, read: Callable[[sqlite3.Connection, int], T | None],
            missing: str) -> T | JSONResponse:
    """What ``read`` finds for event ``raw_id``, or the answer: 400 for a bad id, 404 with
    ``missing`` (``{id}`` filled in) when there is nothing, 503 when the database fails."""
    try:
        eid = _parse_id(raw_id)
    except ParamError as exc:
        return exc.response()
    try:
        conn = store.connect(store.db_path(_cfg(request).recordings_root))
        if conn is None:
            return not_found(f"no event {eid}")
        try:
            with conn:
                found = read(conn, eid)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return _unavailable(exc)
    return not_found(missing.format(id=eid)) if found is None else found


@router.get("/api/events/{event_id}", response_model=None)
def event(request: Request, event_id: str) -> dict[str, Any] | JSONResponse:
    ev = _lookup(request, event_id, store.get_event, "no event {id}")
    if isinstance(ev, JSONResponse):
        return ev
    index = archive_of(request)
    index.refresh()
    return _decorate(_cfg(request), index, ev, {})


@router.get("/api/events/{event_id}/thumbnail.jpg", response_model=None)
def thumbnail(request: Request, event_id: str) -> Response:
    jpeg = _lookup(request, event_id, store.get_thumbnail, "event {id} has no thumbnail (unknown, or still open)")
    if isinstance(jpeg, JSONResponse):
        return jpeg
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})
