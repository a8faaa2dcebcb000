"""Recordings: the list of segments per camera and day, and the files themselves.

Routes (included by the streamer app, which sets ``app.state.cfg``):

* ``GET /api/recordings/days``: for every camera, the days that have recordings.
* ``GET /api/recordings?camera=N[&date=YYMMDD]``: the segments of one day (the newest day
  with recordings when ``date`` is left out), sorted by start time, with start, duration,
  size, the gaps between them, and the camera's list of days.
* ``GET /recordings/cam{N}/{YYMMDD}/cam{N}_YYYYMMDD_HHMMSS[_K].mp4``: the file, with HTTP Range
  (the ``<video>`` element seeks with it); ``?download=1`` asks the browser to save it.

The lists come from the archive index (:mod:`common.archive.index`), refreshed at each
request: only finished segments (the recorder writes hidden ``.part`` files and renames them
when complete).  A segment's start is its first frame's true time; ``start`` and ``start_s``
give it in local time, as the file names do.  A file path is accepted only if it has exactly
the shape above (:mod:`common.archive.segment_name`, the grammar the recorder names files with)
and, with symlinks resolved, stays inside ``recorder.root``; anything else is a 404 with a
JSON reason and no file is opened.  Handlers are plain ``def`` so the index's queries run in
the thread pool, never on the event loop that feeds live viewers.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from common.archive import segment_name
from common.archive.gaplog import cause_fields, read_gaplog
from common.archive.index import ArchiveIndex, Recording, inside_root
from common.config import Config
from common.i18n import DEFAULT
from streamer.errors import not_found
from streamer.language import language_headers, language_of
from streamer.params import ParamError, local_time_text, parse_camera, parse_date

router = APIRouter()

GAP_TOLERANCE_S = 1.5  # a start told by a file's name has 1 s resolution: back-to-back segments may look 1 s apart


def _cfg(request: Request) -> Config:
    cfg: Config = request.app.state.cfg
    return cfg


def archive_of(request: Request) -> ArchiveIndex:
    """The app's archive index (one per app; each thread has its own connection)."""
    index = getattr(request.app.state, "archive", None)
    if index is None:
        index = request.app.state.archive = ArchiveIndex(_cfg(request).recordings_root)
    return index


def local_clock(t: float) -> tuple[datetime, float]:
    """Local time of epoch ``t`` and where it lies on its day's clock face, in seconds from
    00:00 (what the page's timelines use).  Counted on the clock, not in elapsed time: on the
    days the clocks change, 02:30 is 9000 s whichever of the two 02:30s it is, as its name says."""
    when = datetime.fromtimestamp(t)
    return when, (when - when.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()


def segment_doc(rec: Recording) -> dict[str, Any]:
    """One segment as the API gives it."""
    started, start_s = local_clock(rec.start)
    return {
        "file": rec.name,
        "url": f"/recordings/{rec.file}",
        "start": local_time_text(started),
        "start_epoch": round(rec.start, 3),
        "start_s": round(start_s, 3),
        "duration_s": None if rec.duration is None else round(rec.duration, 3),
        "size_bytes": rec.size,
    }


def list_days(index: ArchiveIndex, camera: int) -> list[dict[str, Any]]:
    """Days (oldest first) with at least one finished segment of ``camera``."""
    return [{"date": day, "segments": count, "bytes": size} for day, count, size in index.days(camera)]


def list_segments(index: ArchiveIndex, camera: int, date: str) -> list[dict[str, Any]]:
    """Finished segments of one camera and day, sorted by start time."""
    return [segment_doc(rec) for rec in index.day(camera, date)]


def holes(segments: list[Recording]) -> Iterator[tuple[float, float]]:
    """Each hole between consecutive segments (by start): its start and end, epoch seconds
    (a segment's end, the next one's start)."""
    for prev, nxt in itertools.pairwise(segments):
        if prev.duration is None:
            continue
        end = prev.start + prev.duration
        if nxt.start - end > GAP_TOLERANCE_S:
            yield end, nxt.start


def find_gaps(segments: list[Recording], events: list[dict[str, Any]], lang: str = DEFAULT) -> list[dict[str, Any]]:
    """Holes between consecutive segments of a day, as seconds since its midnight, each with
    its cause where the recorder's event log (``events``) knows it (paused, restarted...), in
    English and in ``lang``."""
    gaps = []
    for start, end in holes(segments):
        _, start_s = local_clock(start)
        gaps.append({"start_s": round(start_s, 3), "end_s": round(start_s + end - start, 3),
                     "duration_s": round(end - start, 3), **cause_fields(events, start, end, lang)})
    return gaps


@router.get("/api/recordings/days")
def recording_days(request: Request) -> dict[str, Any]:
    cfg = _cfg(request)
    index = archive_of(request)
    index.refresh()
    return {"cameras": {str(c): list_days(index, c) for c in range(cfg.camera.count)}}


@router.get("/api/recordings", response_model=None)
def recordings(request: Request, camera: str | None = None, date: str | None = None) -> JSONResponse:
    cfg = _cfg(request)
    try:
        cam = parse_camera(cfg, camera)
        day = None if date is None else parse_date(date)
    except ParamError as exc:
        return exc.response(request)
    lang = language_of(request.headers)
    index = archive_of(request)
    index.refresh()
    days = list_days(index, cam)
    if day is None:
        day = days[-1]["date"] if days else segment_name.day_folder(datetime.now())
    found = index.day(cam, day)
    segments = [segment_doc(rec) for rec in found]
    # A ready response: FastAPI's generic encoder would take longer than the rest for a full day.
    return JSONResponse({
        "camera": cam,
        "name": cfg.camera_name(cam),
        "date": day,
        "days": days,
        "segments": segments,
        "gaps": find_gaps(found, read_gaplog(cfg.run_dir, cam), lang),
        "recorded_s": round(sum(s["duration_s"] or 0 for s in segments), 3),
        "total_bytes": sum(s["size_bytes"] for s in segments),
    }, headers=language_headers(lang))


def resolve_file(root: Path, rel: str) -> Path | tuple[str, dict[str, str]]:
    """The real path of a finished segment under ``root``, or why it is refused (a reason code
    and what fills its message)."""
    parsed = segment_name.parse_rel_path(rel)
    if isinstance(parsed, str):
        return "bad_path", {"detail": parsed}
    real = os.path.realpath(os.path.join(root, rel))
    if not inside_root(root, real):
        return "outside_recordings", {}
    if not os.path.isfile(real):
        return "no_recording", {}
    return Path(real)


@router.api_route("/recordings/{rel:path}", methods=["GET", "HEAD"], response_model=None)
def recording_file(request: Request, rel: str, download: str | None = None) -> FileResponse | JSONResponse:
    if not str(request.scope.get("path", "")).endswith(f"/recordings/{rel}"):
        # The router's pattern lets a trailing newline go; the path must be exactly the file's.
        return not_found("bad_path", language_of(request.headers), detail=f"path must be {segment_name.SHAPE}")
    found = resolve_file(_cfg(request).recordings_root, rel)
    if isinstance(found, tuple):
        return not_found(found[0], language_of(request.headers), **found[1])
    name = found.name
    if download not in (None, "", "0", "false"):
        return FileResponse(found, media_type="video/mp4", filename=name,
                            content_disposition_type="attachment")
    return FileResponse(found, media_type="video/mp4")
