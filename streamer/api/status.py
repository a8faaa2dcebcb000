"""What the streamer reports: ``GET /api/status`` (cameras, views, viewers, controls,
recorders) and the legacy API's summaries.

Viewers and views come from the shared viewer table, so any worker answers for all of
them; this worker's own viewers are taken live rather than from its last table write.
Who did what and from where is for admins: a viewer sees that recording is paused, not
by whom, and no address but its own.
"""
from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, Request, Response

from common.clock import utc_offset_s
from common.config import Config
from common.i18n import DEFAULT, catalogue, text
from common.state.board import StatusBoard
from common.state.controls import Controls
from streamer.api.context import ApiContext
from streamer.auth import Identity, identity
from streamer.language import language_headers, language_of
from streamer.live import CameraWatch
from streamer.params import RESOLUTIONS, cameras

RECORDER_STALE_S = 5.0   # a recorder status older than this means the recorder is not running
ROW_FIELDS = ("address", "view", "res", "since", "fps", "bytes_sent", "latency_ms", "latency_p50_ms",
              "latency_p99_ms", "pid")
router = APIRouter()


def recorder_docs(cfg: Config, board: StatusBoard) -> dict[str, Any]:
    return {cam: board.read(f"recorder-cam{cam}") for cam in cameras(cfg)}


def merge_views(per_worker: list[list[dict[str, Any]]], viewers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (view, resolution) over all workers: each encodes the same frames."""
    merged: dict[tuple[Any, Any], dict[str, Any]] = {}
    for stats in per_worker:
        for v in stats:
            if not isinstance(v, dict) or not v.get("encoding"):
                continue
            key = (v.get("view"), v.get("res"))
            m = merged.setdefault(key, {"view": key[0], "res": key[1], "viewers": 0, "fps": 0.0,
                                        "fps_encoded": 0.0, "avg_jpeg_bytes": 0, "encode_ms": 0.0,
                                        "anomalies": 0, "frames_encoded": 0, "encoders": 0})
            n = m["encoders"]
            m["fps_encoded"] = max(m["fps_encoded"], v.get("fps", 0.0))
            m["avg_jpeg_bytes"] = int((m["avg_jpeg_bytes"] * n + v.get("avg_jpeg_bytes", 0)) / (n + 1))
            m["encode_ms"] = round((m["encode_ms"] * n + v.get("encode_ms", 0.0)) / (n + 1), 2)
            m["anomalies"] += v.get("anomalies", 0)
            m["frames_encoded"] += v.get("frames_encoded", 0)
            m["encoders"] = n + 1
    for key, m in merged.items():
        mine = [r for r in viewers if (r.get("view"), r.get("res")) == key]
        m["viewers"] = len({r.get("address") for r in mine})
        m["streams"] = len(mine)
        m["fps"] = round(sum(r.get("fps", 0.0) for r in mine) / len(mine), 2) if mine else 0.0
    return sorted(merged.values(), key=lambda m: (m["res"], m["view"]))


def last_control(board: StatusBoard) -> dict[str, Any] | None:
    """Who changed what last, from where."""
    doc = board.read_last_control()
    return {k: doc.get(k) for k in ("action", "by", "from", "at")} if doc else None


def camera_row(rt: ApiContext, cam: int, lang: str) -> dict[str, Any]:
    """A camera's line, with why it gives no picture also in ``lang`` (``reason_text``)."""
    row = rt.watch.camera(cam)
    key = f"camreason.{row['reason_code']}"
    known = row["reason_code"] and key in catalogue(DEFAULT)
    return {**row, "reason_text": text(lang, key, detail=row["reason"] or "") if known else row["reason"]}


def full_status(rt: ApiContext, lang: str = DEFAULT) -> dict[str, Any]:
    cfg = rt.cfg
    live = rt.live.report()
    now = time.time()
    return {
        "time": now,
        "utc_offset_s": utc_offset_s(now),
        "worker_pid": os.getpid(),
        "cameras": {str(cam): camera_row(rt, cam, lang) for cam in range(cfg.camera.count)},
        "views": merge_views(live.views, live.mjpeg),
        "viewers": [{k: r.get(k) for k in ROW_FIELDS} for r in live.mjpeg],
        "low_data_viewers": [{k: r.get(k) for k in (*ROW_FIELDS, "skips")} for r in live.h264],
        "limits": {"max_clients_per_resolution": cfg.streamer.max_clients_per_resolution,
                   "viewers_by_res": live.holders},
        "controls": rt.controls.get(),
        "recorders": recorder_docs(cfg, rt.board),
        "last_control": last_control(rt.board),
    }


@router.get("/api/status")
async def api_status(request: Request, response: Response) -> dict[str, Any]:
    lang = language_of(request.headers)
    status, who = full_status(request.app.state.rt, lang), identity(request)
    response.headers.update(language_headers(lang))
    return status if who.role == "admin" else for_viewer(status, who)


def for_viewer(status: dict[str, Any], who: Identity) -> dict[str, Any]:
    """``status`` without other people's names and addresses."""
    def own(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**r, "address": r.get("address") if r.get("address") == who.address else None} for r in rows]
    controls = {k: v for k, v in status["controls"].items() if k != "changed_by"}
    controls["paused"] = {cam: {k: v for k, v in p.items() if k not in ("by", "from")}
                          for cam, p in controls["paused"].items()}
    return {**status, "viewers": own(status["viewers"]), "low_data_viewers": own(status["low_data_viewers"]),
            "controls": controls, "last_control": None}


def recorder_state(doc: dict[str, Any] | None) -> str:
    if not doc or doc.get("age_s", RECORDER_STALE_S) >= RECORDER_STALE_S:
        return "not running"
    return str(doc.get("state", "unknown"))


def recording_status(cfg: Config, watch: CameraWatch, controls: Controls, board: StatusBoard) -> dict[str, Any]:
    flags = controls.get()["recording"]
    out = {}
    for cam in cameras(cfg):
        doc = board.read(f"recorder-cam{cam}")
        state = recorder_state(doc)
        out[f"camera_{cam}"] = {"recording": bool(flags.get(cam, True)) and state == "recording",
                                "camera_active": watch.camera(int(cam))["live"], "status": state,
                                "enabled": bool(flags.get(cam, True))}
    return out


def legacy_stats(cfg: Config, watch: CameraWatch, controls: Controls, views: list[dict[str, Any]],
                 by_res: dict[str, int], addresses: int, last_camera: int = 0) -> dict[str, Any]:
    ctrl = controls.get()
    view, res = ctrl["view"], ctrl["resolution"]
    current = next((v for v in views if v["view"] == view and v["res"] == res), None)
    cam = last_camera if view == "dual" else int(view)
    recording = any(ctrl["recording"].values())
    fps = current["fps_encoded"] if current else watch.camera(cam)["fps"]
    return {
        "current_camera": cam,
        "dual_mode": view == "dual",
        "resolution": RESOLUTIONS[res].legacy if res in RESOLUTIONS else res,
        "codec": "mjpeg",
        "quality": cfg.streamer.jpeg_quality,
        "engine": "simplejpeg",
        "active_clients": addresses,
        "active_clients_by_resolution": by_res,
        "max_clients": cfg.streamer.max_clients_per_resolution,
        "recording_enabled": recording,
        "stats": {"frame_count": current["frames_encoded"] if current else 0,
                  "avg_frame_size": current["avg_jpeg_bytes"] if current else 0,
                  "fps": fps, "last_update": time.time(), "recording": recording},
    }
