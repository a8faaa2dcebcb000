"""Recordings: the list of segments per camera and day, and the files themselves.

Routes (included by the streamer app, which sets ``app.state.cfg``):

* ``GET /api/recordings/days``: for every camera, the days that have recordings.
* ``GET /api/recordings?camera=N[&date=YYMMDD]``: the segments of one day (the newest day
  with recordings when ``date`` is left out), sorted by start time, with start, duration,
  size, the gaps between them, and the camera's list of days.
* ``GET /recordings/cam{N}/{YYMMDD}/cam{N}_YYYYMMDD_HHMMSS[_K].mp4``: the file, with HTTP Range
  (the ``<video>`` element seeks with it); ``?download=1`` asks the browser to save it.

Only finished segments are listed and served: the recorder writes hidden ``.part`` files
and renames them when complete.  A file path is accepted only if it has exactly the shape
above (:mod:`common.archive.segment_name`, the grammar the recorder names files with) and, with
symlinks resolved, stays inside ``recorder.root``; anything else is a 404 with a JSON
reason and no file is opened.  Listing handlers are plain ``def`` so the
directory scans run in the thread pool, never on the event loop that feeds live viewers.
"""
from __future__ import annotations

import os
import struct
import threading
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from common.archive import segment_name
from common.archive.gaplog import cause_of, read_gaplog
from common.config import Config
from streamer.archive.mp4_duration import mp4_duration
from streamer.params import ParamError, not_found, parse_camera, parse_date

router = APIRouter()

GAP_TOLERANCE_S = 1.5  # file names have 1 s resolution; back-to-back segments may look 1 s apart
CACHE_ENTRIES = 16384  # about 3 days of 30 s segments for two cameras


class _DurationCache:
    """Durations by path, valid while (mtime, size) is unchanged; least recently used goes first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[str, tuple[int, int, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str, st: os.stat_result) -> float | None:
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._items.get(path)
            if hit is not None and hit[:2] == key:
                self._items.move_to_end(path)
                return hit[2]
        try:
            duration = mp4_duration(path)
        except (OSError, ValueError, IndexError, OverflowError, struct.error):
            duration = None
        with self._lock:
            self._items[path] = (*key, duration)
            self._items.move_to_end(path)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return duration

    def __len__(self) -> int:
        return len(self._items)


durations = _DurationCache(CACHE_ENTRIES)


def _cfg(request: Request) -> Config:
    return request.app.state.cfg


def _inside(root: Path, path: str) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def _segments_in(root: Path, folder: Path, camera: int
                 ) -> list[tuple[os.DirEntry[str], segment_name.SegmentName]]:
    """Finished segments of ``camera`` in ``folder``; a symlink counts only if it stays in the root."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    out = []
    for entry in entries:
        name = segment_name.parse(entry.name)
        if not (name and name.camera == camera and entry.is_file()):
            continue
        if entry.is_symlink() and not _inside(root, entry.path):
            continue
        out.append((entry, name))
    return out


_day_totals: OrderedDict[str, tuple[int, int, int]] = OrderedDict()  # folder -> (mtime_ns, count, bytes)
_day_lock = threading.Lock()
DAY_CACHE_ENTRIES = 8192  # over ten years of days for two cameras


def _day_summary(root: Path, folder: Path, camera: int) -> tuple[int, int]:
    """(segments, bytes) of a day folder; recomputed only when the folder changed.

    The recorder renames each finished segment into the folder and retention deletes from
    it, and both change the folder's mtime, so a refresh of the page costs one stat per day.
    """
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        return 0, 0
    key = str(folder)
    with _day_lock:
        hit = _day_totals.get(key)
        if hit is not None and hit[0] == mtime:
            _day_totals.move_to_end(key)
            return hit[1], hit[2]
    files = _segments_in(root, folder, camera)
    size = 0
    for entry, _ in files:
        try:
            size += entry.stat().st_size
        except FileNotFoundError:  # retention removed it meanwhile
            pass
    with _day_lock:
        _day_totals[key] = (mtime, len(files), size)
        _day_totals.move_to_end(key)
        while len(_day_totals) > DAY_CACHE_ENTRIES:
            _day_totals.popitem(last=False)
    return len(files), size


def list_days(root: Path, camera: int) -> list[dict[str, Any]]:
    """Days (oldest first) with at least one finished segment of ``camera``."""
    cam_dir = root / segment_name.camera_folder(camera)
    try:
        folders = sorted(e.name for e in os.scandir(cam_dir) if e.is_dir() and segment_name.is_day(e.name))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    days = []
    for name in folders:
        count, size = _day_summary(root, cam_dir / name, camera)
        if count:
            days.append({"date": name, "segments": count, "bytes": size})
    return days


def list_segments(root: Path, camera: int, date: str) -> list[dict[str, Any]]:
    """Finished segments of one camera and day, sorted by start time."""
    out: list[tuple[dict[str, Any], int]] = []
    folder = PurePosixPath(segment_name.camera_folder(camera), date)
    for entry, name in _segments_in(root, root / folder, camera):
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue
        started = name.start
        duration = durations.get(entry.path, st)
        start_s = started.hour * 3600 + started.minute * 60 + started.second
        out.append(({
            "file": entry.name,
            "url": f"/recordings/{folder / entry.name}",
            "start": started.isoformat(),
            "start_epoch": time.mktime(started.timetuple()),
            "start_s": start_s,
            "duration_s": None if duration is None else round(duration, 3),
            "size_bytes": st.st_size,
        }, name.collision))
    out.sort(key=lambda item: (item[0]["start_epoch"], item[1], item[0]["file"]))
    return [seg for seg, _ in out]


def holes(segments: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], float, float]]:
    """For each hole between consecutive segments: the segment before it, and the hole's
    start and end (epoch seconds: that segment's end, the next one's start)."""
    for prev, nxt in zip(segments, segments[1:]):
        if prev["duration_s"] is None:
            continue
        end = prev["start_epoch"] + prev["duration_s"]
        if nxt["start_epoch"] - end > GAP_TOLERANCE_S:
            yield prev, end, nxt["start_epoch"]


def find_gaps(segments: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Holes between consecutive segments, as seconds since the day's midnight."""
    gaps = []
    for prev, start, end in holes(segments):
        hole = end - start
        start_s = prev["start_s"] + prev["duration_s"]
        gaps.append({"start_s": round(start_s, 3), "end_s": round(start_s + hole, 3), "duration_s": round(hole, 3)})
    return gaps


def with_causes(gaps: list[dict[str, Any]], segments: list[dict[str, Any]],
                events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each gap with its cause where the recorder's event log knows it (paused, restarted...)."""
    if not segments:
        return gaps
    midnight = segments[0]["start_epoch"] - segments[0]["start_s"]
    return [{**g, "cause": cause_of(events, midnight + g["start_s"], midnight + g["end_s"])} for g in gaps]


@router.get("/api/recordings/days")
def recording_days(request: Request) -> dict[str, Any]:
    cfg = _cfg(request)
    root = cfg.recordings_root
    return {"cameras": {str(c): list_days(root, c) for c in range(cfg.camera.count)}}


@router.get("/api/recordings", response_model=None)
def recordings(request: Request, camera: str | None = None, date: str | None = None
               ) -> dict[str, Any] | JSONResponse:
    cfg = _cfg(request)
    try:
        cam = parse_camera(cfg, camera)
        day = None if date is None else parse_date(date)
    except ParamError as exc:
        return exc.response()
    root = cfg.recordings_root
    days = list_days(root, cam)
    if day is None:
        day = days[-1]["date"] if days else segment_name.day_folder(datetime.now())
    segments = list_segments(root, cam, day)
    return {
        "camera": cam,
        "name": cfg.camera_name(cam),
        "date": day,
        "days": days,
        "segments": segments,
        "gaps": with_causes(find_gaps(segments), segments, read_gaplog(cfg.run_dir, cam)),
        "recorded_s": round(sum(s["duration_s"] or 0 for s in segments), 3),
        "total_bytes": sum(s["size_bytes"] for s in segments),
    }


def resolve_file(root: Path, rel: str) -> Path | str:
    """The real path of a finished segment under ``root``, or the reason it is refused."""
    parsed = segment_name.parse_rel_path(rel)
    if isinstance(parsed, str):
        return parsed
    real = os.path.realpath(os.path.join(root, rel))
    if not _inside(root, real):
        return "path leaves the recordings folder"
    if not os.path.isfile(real):
        return "no such recording"
    return Path(real)


@router.api_route("/recordings/{rel:path}", methods=["GET", "HEAD"], response_model=None)
def recording_file(request: Request, rel: str, download: str | None = None) -> FileResponse | JSONResponse:
    if not str(request.scope.get("path", "")).endswith(f"/recordings/{rel}"):
        # The router's pattern lets a trailing newline go; the path must be exactly the file's.
        return not_found(f"path must be {segment_name.SHAPE}")
    found = resolve_file(_cfg(request).recordings_root, rel)
    if isinstance(found, str):
        return not_found(found)
    name = found.name
    if download not in (None, "", "0", "false"):
        return FileResponse(found, media_type="video/mp4", filename=name,
                            content_disposition_type="attachment")
    return FileResponse(found, media_type="video/mp4")
