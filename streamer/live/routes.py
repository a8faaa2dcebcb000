"""The live routes: MJPEG views and their heartbeats, snapshots, and the low-data view.

``GET /stream`` and ``/stream/{camera}`` open an MJPEG view (``HEAD``: a heartbeat that
says which of the view's cameras are live), ``GET /snapshot`` answers one JPEG, and
``GET /live/{camera}.mp4`` the low-data H.264 view.  Both kinds of stream go through the
one gate (:mod:`streamer.live.admission`).  The worker's :class:`LiveRuntime` is
``app.state.live``.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from streamer.auth import client_key, identity
from streamer.errors import error_response
from streamer.language import language_of
from streamer.live.h264.stream import H264Stream, H264Viewer
from streamer.live.mjpeg.stream import MJPEGStream, MJPEGViewer
from streamer.live.runtime import LiveRuntime
from streamer.params import check_camera

router = APIRouter()


def _live(request: Request) -> LiveRuntime:
    live: LiveRuntime = request.app.state.live
    return live


def _heartbeat(live: LiveRuntime, view: str, res: str) -> Response:
    cams, age = live.cameras.heartbeat(view, res)
    headers = {"X-Cameras-Live": ",".join(map(str, cams)), "X-Frame-Age-Ms": "" if age is None else f"{age:.1f}",
               "X-View": view, "X-Resolution": res}
    return Response(status_code=200 if cams else 503, headers=headers)


def _view(request: Request, view: str | None, res: str | None) -> Response:
    live = _live(request)
    view, res = live.defaults(view, res)
    if request.method == "HEAD":
        return _heartbeat(live, view, res)
    viewer = live.viewers.admit(request, lambda address: MJPEGViewer(address, view, res))
    if isinstance(viewer, Response):
        return viewer
    return MJPEGStream(live.encoders, viewer, live.viewers.end)


@router.api_route("/stream", methods=["GET", "HEAD"])
async def stream(request: Request, view: str | None = None, res: str | None = None) -> Response:
    return _view(request, view, res)


@router.api_route("/stream/{camera_id}", methods=["GET", "HEAD"])
async def stream_camera(camera_id: str, request: Request, res: str | None = None) -> Response:
    return _view(request, str(check_camera(request.app.state.cfg, camera_id)), res)


def _too_often(wait: float, lang: str) -> JSONResponse:
    retry = max(1, round(wait + 0.49))
    return error_response(429, "snapshots_busy", lang, {"Retry-After": str(retry)}, retry_after_s=retry)


@router.get("/snapshot")
async def snapshot(request: Request, view: str | None = None, res: str | None = None) -> Response:
    live = _live(request)
    view, res = live.defaults(view, res)
    lang = language_of(request.headers)
    wait = live.snapshot_rate.take(client_key(identity(request).address))
    if wait > 0:
        return _too_often(wait, lang)
    pic = await live.snapshot(view, res)
    if isinstance(pic, float):
        return _too_often(pic, lang)
    if pic is None:
        return error_response(503, "no_snapshot", lang, view=view, res=res)
    cams, _ = live.cameras.heartbeat(view, res)
    return Response(bytes(pic.jpeg), media_type="image/jpeg", headers={
        "X-Timestamp": f"{pic.wall_ns / 1e9:.6f}", "X-Frame-Index": str(pic.index),
        "X-Cameras-Live": ",".join(map(str, cams))})


@router.get("/live/{camera}.mp4")
async def live_mp4(camera: str, request: Request) -> Response:
    live = _live(request)
    cam = check_camera(live.cfg, camera, "camera")
    viewer = live.viewers.admit(request, lambda address: H264Viewer(address, cam))
    if isinstance(viewer, Response):
        return viewer
    return H264Stream(live.feeds, viewer, live.viewers.end)
