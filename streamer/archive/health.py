"""Am I recording?  ``GET /api/health``: per camera, what the files and the recorder say.

For each camera: the last finished segment and its age, the gaps of the last 24 h found
in the archive index (:mod:`common.archive.index`: each segment's true start and duration)
with their cause where the recorder's event log knows it, frames dropped today, disk free
and how many days of recording it holds at today's rate, the retention state; and overall
``ok`` / ``warning`` / ``failing`` with the reasons.  A camera that has not finished a
segment for more than two segment lengths while it should record is failing (unless it is
``starting``: its recorder writes the first segment since it started), and so is
everything while the recordings disk is not mounted where ``recorder.require_mount`` says
(``disk.error``).  With off-site copies configured, ``offsite`` says per camera the newest
segment off-site and how far the upload is behind, the remote (without its secrets), what waits
and the last success, the last error and its cause; a backlog older than
``offsite.max_lag_minutes``, a failing upload or segments deleted before upload warn.
"""
from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from common.archive import segment_name
from common.archive.gaplog import cause_fields, read_gaplog
from common.archive.index import ArchiveIndex, Recording
from common.archive.mount import mount_problem
from common.config import Config
from common.i18n import DEFAULT, Said, Term, catalogue
from common.state.board import StatusBoard
from common.state.controls import Controls
from streamer.archive.recordings import archive_of, holes, segment_doc
from streamer.language import language_headers, language_of

router = APIRouter()
WINDOW_S = 24 * 3600
RECORDER_STALE_S = 5.0


def gaps_with_causes(segments: list[Recording], events: list[dict[str, Any]],
                     lang: str = DEFAULT) -> list[dict[str, Any]]:
    """Holes between consecutive segments (epoch seconds), each with its cause where known."""
    return [{"start": round(start, 3), "end": round(end, 3), "duration_s": round(end - start, 3),
             **cause_fields(events, start, end, lang)} for start, end in holes(segments)]


def state_word(kind: str, state: str) -> Term | str:
    """A state in the reader's words (catalogue ``<kind>.<state>``), or as it is if it has none."""
    key = f"{kind}.{state.replace(' ', '_')}"
    return Term(key) if key in catalogue(DEFAULT) else state


def capture_words(reason: str | None, code: str | None) -> Term | str:
    """Why a camera gives no picture: the capture's words under their code (English keeps the
    details, other languages say it plainly), else the words as they are."""
    key = f"camreason.{code}"
    return Term.of(key, detail=reason or "") if code and key in catalogue(DEFAULT) else (reason or "")


def _bytes_today(recent: list[Recording], now: float) -> tuple[int, float]:
    """Bytes recorded since local midnight (``recent``: the last 24 h by start) and the seconds they cover."""
    today = datetime.fromtimestamp(now)
    folder = segment_name.day_folder(today)
    segs = [r for r in recent if r.day == folder]
    if not segs:
        return 0, 0.0
    midnight = today.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    first = max(midnight, segs[0].start)
    return sum(r.size for r in segs), max(1.0, now - first)


def starting(doc: dict[str, Any] | None, now: float, seg_s: float) -> bool:
    """Is the recorder (``doc``, fresh) writing the first segment since it started, begun less than
    two segment lengths ago, or waiting for its first frames since a start that recent?  Then no
    finished segment yet is no fault: the camera is starting."""
    if not doc or doc.get("segments_written"):
        return False
    if doc.get("state") == "waiting":
        started = doc.get("started_at")
        return isinstance(started, (int, float)) and 0 <= now - started <= 2 * seg_s
    if doc.get("state") != "recording":
        return False
    current = segment_name.parse_rel_path(str(doc.get("current_file") or ""))
    return not isinstance(current, str) and now - current.start.timestamp() <= 2 * seg_s


def camera_health(cfg: Config, camera: int, recent: list[Recording], doc: dict[str, Any] | None, enabled: bool,
                  now: float, capture: tuple[str, str | None] = ("unknown", None), lang: str = DEFAULT,
                  capture_code: str | None = None) -> dict[str, Any]:
    """``recent``: the camera's segments that run in the last 24 h, by start; the reasons are in
    English (``reasons``) and in ``lang`` (``reasons_text``)."""
    seg_s = cfg.recorder.segment_seconds
    events = read_gaplog(cfg.run_dir, camera)
    gaps = gaps_with_causes(recent, events, lang)
    last = segment_doc(recent[-1]) if recent else None
    last_end = (recent[-1].start + (recent[-1].duration or 0)) if recent else None
    age = None if last_end is None else round(max(0.0, now - last_end), 1)
    running = doc is not None and doc.get("age_s", RECORDER_STALE_S) < RECORDER_STALE_S
    state = str(doc.get("state", "unknown")) if running and doc else "not running"
    failing, warning = Said(lang), Said(lang)
    cam = Term.of("health.camera", n=camera)
    first = enabled and running and starting(doc, now, seg_s)
    capture_state, capture_reason = capture
    if capture_state in ("not connected", "error", "no signal"):
        state_says = state_word("capstate", capture_state)
        if capture_reason:
            failing("health.r.capture_why", cam=cam, state=state_says,
                    reason=capture_words(capture_reason, capture_code))
        else:
            failing("health.r.capture", cam=cam, state=state_says)
    if enabled:
        if (age is None or age > 2 * seg_s) and not first:   # a starting camera says so instead
            since = Term("health.r.none_yet") if age is None else Term.of("health.r.none_for", s=f"{age:.0f}")
            why = doc.get("waiting_for") or doc.get("last_error") if running and doc else ""
            if why:
                failing("health.r.no_segment_why", cam=cam, since=since, state=state_word("recstate", state),
                        detail=why)
            else:
                failing("health.r.no_segment", cam=cam, since=since, state=state_word("recstate", state))
        elif not running:
            failing("health.r.not_running", cam=cam)
    else:
        warning("health.r.paused", cam=cam)
    if running and doc:
        if doc.get("retention_state", "ok") != "ok":
            code = doc.get("retention_code")
            failing("health.r.retention", cam=cam, state=Term.of(f"retention.{code}", detail=doc["retention_state"])
                    if f"retention.{code}" in catalogue(DEFAULT) else doc["retention_state"])
        if doc.get("disk_error"):
            failing("health.r.detail", cam=cam, detail=doc["disk_error"])
        if doc.get("frames_dropped_today"):
            warning("health.r.dropped", cam=cam, n=doc["frames_dropped_today"])
        if doc.get("disk_warning"):
            warning("health.r.disk_low", cam=cam)
        if doc.get("clock_steps_24h"):
            # Only recent steps: the one NTP makes at boot is news for a day, not until a restart.
            warning("health.r.clock", cam=cam, n=doc["clock_steps_24h"])
    if gaps:
        warning("health.r.gaps", cam=cam, n=len(gaps))
    return {
        "camera": camera, "enabled": enabled, "recorder": state, "starting": first,
        "capture": {"state": capture_state, "reason": capture_reason, "reason_code": capture_code},
        "last_segment": None if last is None else {"file": last["file"], "url": last["url"],
                                                   "start": last["start"], "duration_s": last["duration_s"],
                                                   "age_s": age},
        "segments_24h": len(recent),
        "gaps_24h": gaps,
        "frames_dropped_today": int(doc.get("frames_dropped_today", 0)) if running and doc else None,
        "retention": {"state": doc.get("retention_state", "ok") if running and doc else None,
                      "code": doc.get("retention_code") if running and doc else None,
                      "rule": doc.get("retention_rule") if running and doc else None,
                      "kept": doc.get("retention_kept") if running and doc else None,
                      "undeletable": doc.get("retention_undeletable", 0) if running and doc else None,
                      "deleted": doc.get("retention_deleted_count", 0) if running and doc else None},
        "clock_steps": doc.get("clock_steps", 0) if running and doc else None,
        "clock_steps_24h": doc.get("clock_steps_24h", 0) if running and doc else None,
        "status": "failing" if failing else ("warning" if warning else "ok"),
        "reasons": failing.english + warning.english,
        "reasons_text": failing.local + warning.local,
    }


OFFSITE_STALE_S = 10.0


def offsite_health(doc: dict[str, Any] | None, lang: str = DEFAULT) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``offsite`` block and its warnings (in English; in ``lang`` in the block's
    ``reasons_text``); (None, []) when off-site copies are off."""
    if doc is None or not doc.get("enabled"):
        return None, []
    running = doc.get("pid", 0) != 0 and doc.get("age_s", OFFSITE_STALE_S) < OFFSITE_STALE_S
    cams = doc.get("cameras", {})
    max_lag_s = float(doc.get("max_lag_minutes", 30)) * 60
    warning = Said(lang)
    if not running:
        warning("health.r.offsite_down")
    lag = max((float(c.get("lag_s", 0)) for c in cams.values()), default=0.0)
    if lag > max_lag_s:
        warning("health.r.offsite_behind", lag=f"{lag / 60:.0f}", max=f"{max_lag_s / 60:g}")
    if doc.get("state") == "error" and doc.get("last_error"):
        warning("health.r.offsite_failing", cause=doc.get("last_error_cause"), error=doc["last_error"])
    lost = int(doc.get("lost_before_upload", 0))
    if lost:
        warning("health.r.offsite_lost", n=lost)
    block = {"state": doc.get("state") if running else "not running", "running": running, "mode": doc.get("mode"),
             "remote": doc.get("remote", ""), "cameras": cams, "lag_s": lag,
             "queued_segments": sum(int(c.get("backlog_segments", 0)) for c in cams.values()),
             "queued_bytes": sum(int(c.get("backlog_bytes", 0)) for c in cams.values()),
             "last_sent_at": doc.get("last_sent_at"), "lost_before_upload": lost,
             "last_error": doc.get("last_error", ""),
             "last_error_cause": doc.get("last_error_cause"), "last_error_at": doc.get("last_error_at"),
             "status": "warning" if warning else "ok", "reasons": warning.english, "reasons_text": warning.local}
    return block, warning.english


def health(cfg: Config, index: ArchiveIndex, board: StatusBoard, controls: Controls, now: float | None = None,
           captures: dict[int, tuple[str, str | None]] | None = None, lang: str = DEFAULT,
           capture_codes: dict[int, str | None] | None = None) -> dict[str, Any]:
    """``captures``: each camera's capture state and reason (live, not connected, off, error...),
    ``capture_codes`` the reasons' codes; ``reasons`` are in English, ``reasons_text`` in ``lang``."""
    now = time.time() if now is None else now
    flags = controls.get()["recording"]
    captures, capture_codes = captures or {}, capture_codes or {}
    index.refresh()
    recent = {cam: index.ending_after(cam, now - WINDOW_S) for cam in range(cfg.camera.count)}
    cams = [camera_health(cfg, cam, recent[cam], board.read(f"recorder-cam{cam}"), bool(flags.get(str(cam), True)),
                          now, captures.get(cam, ("unknown", None)), lang, capture_codes.get(cam))
            for cam in range(cfg.camera.count)]
    root = cfg.recordings_root
    absent = mount_problem(root, cfg.recorder.require_mount)
    free: int | None = None
    if not absent:   # (an empty mount point's free space is the SD card's)
        try:
            st = os.statvfs(root)
            free = st.f_bavail * st.f_frsize
        except OSError:
            pass
    per_day = 0.0
    for cam in range(cfg.camera.count):
        size, span = _bytes_today(recent[cam], now)
        per_day += size / span * 86400 if span else 0.0
    days = None if free is None or per_day <= 0 else round(free / per_day, 2)
    offsite, _ = offsite_health(board.read("offsite"), lang)
    first, said = Said(lang), Said(lang)
    if absent:
        first("health.r.disk_absent", detail=absent)
    for part in (*cams, *([offsite] if offsite else [])):
        said.english += part["reasons"]
        said.local += part["reasons_text"]
    if not absent and free is None:
        said("health.r.unreadable", root=root)
    overall = "failing" if any(c["status"] == "failing" for c in cams) or free is None else \
        ("warning" if first or said else "ok")
    if days is not None and days < 1 and overall == "ok":
        overall = "warning"
        said("health.r.days_left", days=f"{days:.1f}")
    return {"status": overall, "reasons": first.english + said.english, "reasons_text": first.local + said.local,
            "time": round(now, 3), "segment_seconds": cfg.recorder.segment_seconds,
            "disk": {"free_bytes": free, "bytes_per_day": int(per_day), "days_left": days,
                     "retention": cfg.recorder.retention, "error": absent,
                     "error_text": first.local[0] if absent else ""},
            "cameras": {str(c["camera"]): c for c in cams}, "offsite": offsite}


@router.get("/api/health")
def api_health(request: Request, response: Response) -> dict[str, Any]:
    rt, lang = request.app.state.rt, language_of(request.headers)
    captures, codes = {}, {}
    for cam in range(rt.cfg.camera.count):
        row = rt.watch.camera(cam)
        captures[cam], codes[cam] = (row["state"], row["reason"]), row["reason_code"]
    response.headers.update(language_headers(lang))
    return health(rt.cfg, archive_of(request), rt.board, rt.controls, captures=captures, lang=lang,
                  capture_codes=codes)
