"""The routes of the system this one replaces, with the same meanings.

They change the shared default view, resolution and recording flags (``Controls``), which
every worker and the recorders read, and which survive restarts.  Every change goes to the
audit trail with the user and address that made it; a pause also keeps them, with its end.
"""
from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from streamer.api.context import ApiContext
from streamer.api.status import full_status, legacy_stats, recording_status
from streamer.auth import audit_action, identity
from streamer.params import LEGACY_RESOLUTIONS, ParamError, check_camera

router = APIRouter()


def _audit(request: Request, action: str, note: str = "") -> None:
    audit_action(request, request.app.state.rt.board, action, note)


def last_camera(rt: ApiContext) -> int:
    doc = rt.board.read_last_camera()
    cam = doc.get("camera", 0) if doc else 0
    return cam if isinstance(cam, int) and 0 <= cam < rt.cfg.camera.count else 0


def _ok(message: str, **extra: object) -> dict[str, Any]:
    return {"success": True, "message": message, **extra}


@router.post("/switch/{camera_id}")
async def switch(camera_id: str, request: Request) -> dict[str, Any]:
    rt = request.app.state.rt
    cam = check_camera(rt.cfg, camera_id)
    rt.controls.update(view=str(cam))
    _audit(request, f"view set to camera {cam}")
    rt.board.publish_last_camera({"camera": cam})
    return _ok(f"switched to camera {cam}", current_camera=cam)


@router.post("/api/dual_mode/{enabled}")
async def dual_mode(enabled: str, request: Request) -> dict[str, Any]:
    rt = request.app.state.rt
    flag = enabled.lower()
    if flag not in ("true", "false"):
        raise ParamError("enabled", enabled, ["true", "false"])
    if flag == "true":
        if rt.cfg.camera.count < 2:
            raise ParamError("enabled", enabled, ["false"])
        rt.controls.update(view="dual")
        _audit(request, "dual view on")
        return _ok("dual view on", dual_mode=True)
    current = rt.controls.get()["view"]
    rt.controls.update(view=current if current != "dual" else str(last_camera(rt)))
    _audit(request, "dual view off")
    return _ok("dual view off", dual_mode=False)


@router.post("/api/resolution/{resolution}")
async def resolution(resolution: str, request: Request) -> dict[str, Any]:
    rt = request.app.state.rt
    if resolution not in LEGACY_RESOLUTIONS:
        raise ParamError("resolution", resolution, list(LEGACY_RESOLUTIONS))
    rt.controls.update(resolution=LEGACY_RESOLUTIONS[resolution])
    _audit(request, f"resolution set to {resolution}")
    return _ok(f"resolution set to {resolution}", resolution=resolution)


@router.get("/api/stats")
async def stats(request: Request) -> dict[str, Any]:
    rt = request.app.state.rt
    status = full_status(rt)
    by_res = status["limits"]["viewers_by_res"]
    addresses = len({v["address"] for v in status["viewers"]})
    return legacy_stats(rt.cfg, rt.watch, rt.controls, status["views"], by_res, addresses, last_camera(rt))


@router.get("/api/recording/status")
async def rec_status(request: Request) -> dict[str, Any]:
    rt = request.app.state.rt
    return recording_status(rt.cfg, rt.watch, rt.controls, rt.board)


@router.post("/api/recording/start/{camera_id}")
async def rec_start(camera_id: str, request: Request) -> dict[str, Any]:
    return _set_recording(request, camera_id, True)


@router.post("/api/recording/stop/{camera_id}")
async def rec_stop(camera_id: str, request: Request) -> dict[str, Any]:
    return _set_recording(request, camera_id, False)


def _set_recording(request: Request, camera_id: str, on: bool) -> dict[str, Any]:
    """Resume or pause a camera's continuous recording (the recorder follows the flag)."""
    rt = request.app.state.rt
    cam = check_camera(rt.cfg, camera_id)
    who, now = identity(request), time.time()
    minutes = rt.cfg.recorder.pause_max_minutes
    pause = {"by": who.label(), "from": who.address, "at": now, "until": now + minutes * 60 if minutes else None}
    by = who.address if who.user is None else f"{who.user} from {who.address}"   # for the gap log
    rt.controls.update(recording={cam: on}, by=by, pause=pause)
    _audit(request, f"recording {'resumed' if on else 'paused'} on camera {cam}",
           "" if on or not minutes else f" (for at most {minutes:g} min)")
    return _ok(f"recording {'resumed' if on else 'paused'} on camera {cam}", camera_id=cam, recording=on,
               **({} if on else {"paused": pause}))
