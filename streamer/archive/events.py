"""Motion events API (the motion process writes them; this only reads).

* ``GET /api/events?camera=N&date=YYMMDD``: one day's events (today when ``date`` is left
  out; both cameras when ``camera`` is), newest first, each with where to play it: the
  segment that holds the event's start (less ``motion.pre_seconds``) and the offset in it,
  and ``ongoing`` while the motion process has it open (its duration then runs to now).
* ``GET /api/events/live``: which cameras have an event open now (the page's MOTION badge).
* ``GET /api/events/{id}`` and ``GET /api/events/{id}/thumbnail.jpg`` (an ongoing event's
  pictures are in memory, :mod:`common.state.live_picture`; the database gets its last).

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
from common.state.live_picture import LivePictures
from streamer.archive.recordings import archive_of, list_segments, local_clock
from streamer.errors import error_response, not_found
from streamer.language import language_of
from streamer.params import ParamError, ParamValueError, parse_camera, parse_date

router = APIRouter()
LIVE_MAX_AGE_S = 3.0   # a motion status older than this means the motion process is not running
MAX_ID = 2**62
T = TypeVar("T")


def _cfg(request: Request) -> Config:
    cfg: Config = request.app.state.cfg
    return cfg


def _unavailable(exc: Exception, request: Request) -> JSONResponse:
    return error_response(503, "events_unavailable", language_of(request.headers), reason=str(exc))


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


def _open_now(cfg: Config, peaks: dict[int, float] | None = None) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Whether the motion process runs, and per camera whether it has an event open now
    and which (``{"open", "event_id"}``), as its status says; ``peaks`` gets each open
    event's latest peak time (event id -> epoch seconds)."""
    doc = StatusBoard.for_config(cfg).read_motion()
    running = bool(doc and doc.get("pid") and doc.get("age_s", 1e9) < LIVE_MAX_AGE_S)
    cams = doc.get("cameras", {}) if doc else {}
    out = {}
    for c in range(cfg.camera.count):
        info = cams.get(str(c))
        is_open = bool(running and info is not None and info.get("open"))
        out[str(c)] = {"open": is_open, "event_id": info.get("event_id") if info is not None and is_open else None}
        progress = info.get("progress") if info is not None and is_open else None
        if peaks is not None and progress and "event_id" in progress and "peak_wall" in progress:
            peaks[progress["event_id"]] = progress["peak_wall"]
    return running, out


def _decorate(cfg: Config, index: ArchiveIndex, ev: dict[str, Any], cache: Segments,
              open_now: dict[str, dict[str, Any]], peaks: dict[int, float]) -> dict[str, Any]:
    start, start_s = local_clock(ev["start_wall"])   # on the recordings' clock line
    # Ongoing: the running motion process has it open.  An event still open in the database
    # while it does not (the process died; its next start closes it) ended at its last motion.
    ongoing = ev["open"] and open_now.get(str(ev["camera"]), {}).get("event_id") == ev["id"]
    end_wall = ev["end_wall"] if ev["end_wall"] is not None else (
        max(ev["last_wall"], time.time()) if ongoing else ev["last_wall"])
    out = dict(ev)
    out.update({
        "ongoing": ongoing,
        "start": start.isoformat(timespec="milliseconds"),
        "date": start.strftime("%y%m%d"),
        "start_s": round(start_s, 3),
        "end_s": round(start_s + end_wall - ev["start_wall"], 3),
        "duration_s": round(end_wall - ev["start_wall"], 3),
        # The picture follows the peak while the event is open: its URL changes with it.
        "thumbnail": (f"/api/events/{ev['id']}/thumbnail.jpg?v={_peak(ev, ongoing, peaks) or 0:.3f}"
                      if ev["has_thumbnail"] or _pictured(cfg, ev) else None),
        "play": _play_target(cfg, index, ev, cache),
    })
    return out


def _pictured(cfg: Config, ev: dict[str, Any]) -> bool:
    """Has an open event its picture in memory (the database gets it when the event ends)?"""
    return bool(ev["open"]) and LivePictures(cfg.run_dir, cfg.ring.prefix).get(ev["camera"], ev["id"]) is not None


def _peak(ev: dict[str, Any], ongoing: bool, peaks: dict[int, float]) -> float | None:
    """When the event's picture was taken: an ongoing one's, as the motion process says
    (the database has its progress every five minutes)."""
    live = peaks.get(ev["id"]) if ongoing else None
    return live if isinstance(live, (int, float)) else ev["peak_wall"]


def _parse_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or not 0 < int(raw) < MAX_ID:
        raise ParamValueError("id", raw, ["a positive whole number"], "bad_event_id")
    return int(raw)


@router.get("/api/events", response_model=None)
def events(request: Request, camera: str | None = None, date: str | None = None) -> dict[str, Any] | JSONResponse:
    cfg = _cfg(request)
    try:
        cam = None if camera is None else parse_camera(cfg, camera)
        day = datetime.now().strftime("%y%m%d") if date is None else parse_date(date)
    except ParamError as exc:
        return exc.response(request)
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
        return _unavailable(exc, request)
    cache: Segments = {}
    index = archive_of(request)
    if found:
        index.refresh()
    peaks: dict[int, float] = {}
    _, open_now = _open_now(cfg, peaks)
    return {"camera": cam, "date": day, "pre_seconds": cfg.motion.pre_seconds,
            "events": [_decorate(cfg, index, ev, cache, open_now, peaks) for ev in found]}


@router.get("/api/events/live")
def events_live(request: Request) -> dict[str, Any]:
    cfg = _cfg(request)
    running, open_now = _open_now(cfg)
    return {"running": running, "enabled": cfg.motion.enabled, "cameras": open_now}


def _lookup(request: Request, raw_id: str, read: Callable[[sqlite3.Connection, int], T | None],
            missing: str) -> T | JSONResponse:
    """What ``read`` finds for event ``raw_id``, or the answer: 400 for a bad id, 404 with the
    reason ``missing`` when there is nothing, 503 when the database fails."""
    try:
        eid = _parse_id(raw_id)
    except ParamError as exc:
        return exc.response(request)
    lang = language_of(request.headers)
    try:
        conn = store.connect(store.db_path(_cfg(request).recordings_root))
        if conn is None:
            return not_found("no_event", lang, id=eid)
        try:
            with conn:
                found = read(conn, eid)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return _unavailable(exc, request)
    return not_found(missing, lang, id=eid) if found is None else found


@router.get("/api/events/{event_id}", response_model=None)
def event(request: Request, event_id: str) -> dict[str, Any] | JSONResponse:
    ev = _lookup(request, event_id, store.get_event, "no_event")
    if isinstance(ev, JSONResponse):
        return ev
    index = archive_of(request)
    index.refresh()
    cfg = _cfg(request)
    peaks: dict[int, float] = {}
    return _decorate(cfg, index, ev, {}, _open_now(cfg, peaks)[1], peaks)


@router.get("/api/events/{event_id}/thumbnail.jpg", response_model=None)
def thumbnail(request: Request, event_id: str) -> Response:
    cfg = _cfg(request)
    try:
        eid = _parse_id(event_id)
    except ParamError as exc:
        return exc.response(request)
    pictures = LivePictures(cfg.run_dir, cfg.ring.prefix)
    for camera in range(cfg.camera.count):   # an ongoing event's newest picture
        live = pictures.get(camera, eid)
        if live is not None:
            return Response(live, media_type="image/jpeg")
    jpeg = _lookup(request, event_id, store.get_thumbnail, "no_thumbnail")
    if isinstance(jpeg, JSONResponse):
        return jpeg
    return Response(jpeg, media_type="image/jpeg")   # private: the app's policy keeps it out of caches
