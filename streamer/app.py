"""The streamer's web app: live MJPEG views, heartbeats, snapshots, status, controls.

A worker keeps nothing another worker needs: defaults live in ``Controls``, viewer slots
in the shared viewer table, frames in the rings.  ``app`` at module level is what uvicorn
workers import.
"""
from __future__ import annotations

import asyncio
import ctypes
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from common.config import Config, load_or_exit
from common.process.memory import trim
from common.state.board import StatusBoard
from common.state.controls import Controls
from streamer.api import controls as compat
from streamer.api.status import CameraWatch, full_status
from streamer.archive.events import router as events_router
from streamer.archive.health import router as health_router
from streamer.archive.recordings import router as recordings_router
from streamer.auth import login
from streamer.auth.access import AccessControl, Guard, identity
from streamer.auth.limits import RateLimit
from streamer.live.h264.stream import router as live_h264_router
from streamer.live.h264.stream import rows as live_h264_rows
from streamer.live.mjpeg.encoder import Encoders, Picture
from streamer.live.mjpeg.stream import MJPEGStream, Viewer
from streamer.live.viewers import REFRESH_S, ViewerTable
from streamer.params import (
    ParamError,
    check_camera,
    check_res,
    check_view,
    param_error_handler,
    validation_error_handler,
)
from streamer.params import router as params_router
from streamer.server import transport

log = logging.getLogger("streamer")

STATIC_DIR = Path(__file__).resolve().parent / "static"
TICK_S = 0.25          # how often stalls of streams on plain ASGI are looked for
RETRY_AFTER_S = 2
SNAPSHOT_RATE, SNAPSHOT_BURST = 2.0, 4        # per address: pictures a second, and at once
SNAPSHOT_ENCODES_PER_S = 4.0                   # whole worker: snapshots made (not reused) a second
M_ARENA_MAX = -8       # mallopt parameter number in glibc


class Runtime:
    """This worker's live parts, made when its event loop starts."""

    def __init__(self, cfg: Config, loop: asyncio.AbstractEventLoop) -> None:
        self.cfg = cfg
        self.encoders = Encoders(cfg, loop)
        self.table = ViewerTable.for_config(cfg.ring.prefix, cfg.run_dir, cfg.streamer.max_clients_per_resolution,
                                            cfg.security.max_streams_per_address)
        self.controls = Controls(cfg.run_dir, cfg.streamer.default_view, cfg.streamer.default_resolution,
                                 cfg.camera.count)
        self.board = StatusBoard(cfg.run_dir)
        self.watch = CameraWatch(cfg)
        self.viewers: dict[str, Viewer] = {}
        # Snapshots: a budget per address, and one for the encodes of the whole worker.
        self.snapshot_rate = RateLimit(SNAPSHOT_RATE, SNAPSHOT_BURST)
        self.snapshot_encodes = RateLimit(SNAPSHOT_ENCODES_PER_S, SNAPSHOT_ENCODES_PER_S)
        self.snapshot_lock = asyncio.Lock()

    def end_viewer(self, viewer: Viewer) -> None:
        self.viewers.pop(viewer.conn, None)
        try:
            self.table.remove(viewer.conn)
        except OSError as exc:
            log.warning("viewer table: %s", exc)

    def status(self) -> dict[str, Any]:
        status = full_status(self.cfg, self.watch, self.controls, self.board, self.table.read(),
                             [v.row() for v in self.viewers.values()], self.encoders.stats())
        status["last_control"] = compat.last_control(self)   # who changed what last, from where
        return status

    async def housekeeping(self) -> None:
        last_sync, was_busy = 0.0, True
        while True:
            # A stream on our own protocol times its stalls itself; only one on plain ASGI
            # (another server) needs looking at this often.
            fallback = any(v.connection is None for v in self.viewers.values())
            await asyncio.sleep(TICK_S if fallback else REFRESH_S)
            now = time.monotonic()
            for viewer in list(self.viewers.values()):
                if viewer.connection is None and viewer.stalled(now):
                    log.info("viewer %s (%s %s) stopped reading: dropped", viewer.address, viewer.view, viewer.res)
                    viewer.drop()
            if now - last_sync < REFRESH_S - 0.05:  # (a timer may fire a hair early)
                continue
            last_sync = now
            self.encoders.reap()
            # An idle worker has nothing to refresh once it has said so.
            busy = bool(self.viewers or self.encoders)
            if busy or was_busy:
                try:
                    self.table.sync([v.row() for v in self.viewers.values()], self.encoders.stats())
                except OSError as exc:
                    log.warning("viewer table: %s", exc)
            was_busy = busy

    def close(self) -> None:
        self.encoders.close()
        try:
            self.table.leave()
        except OSError:
            pass
        self.watch.close()


def _defaults(rt: Runtime, view: str | None, res: str | None) -> tuple[str, str]:
    ctrl = rt.controls.get()
    view = check_view(rt.cfg, ctrl["view"] if view is None else view)
    res = check_res(ctrl["resolution"] if res is None else res).name
    return view, res


def _heartbeat(rt: Runtime, view: str, res: str) -> Response:
    live, age = rt.watch.heartbeat(view, res)
    headers = {"X-Cameras-Live": ",".join(map(str, live)), "X-Frame-Age-Ms": "" if age is None else f"{age:.1f}",
               "X-View": view, "X-Resolution": res, "Cache-Control": "no-store"}
    return Response(status_code=200 if live else 503, headers=headers)


def _open_stream(rt: Runtime, request: Request, view: str, res: str) -> Response:
    viewer = Viewer(identity(request).address, view, res)
    admission = rt.table.admit(viewer.row())
    if not admission.ok and admission.per_address:
        return JSONResponse({"error": "too many streams from this address", "reason": admission.reason,
                             "limit": rt.cfg.security.max_streams_per_address, "setting":
                             "security.max_streams_per_address", "retry_after_s": RETRY_AFTER_S},
                            status_code=429, headers={"Retry-After": str(RETRY_AFTER_S)})
    if not admission.ok:
        return JSONResponse({"error": "viewer limit reached", "reason": admission.reason, "res": res,
                             "limit": admission.limit, "holders": admission.holders,
                             "retry_after_s": RETRY_AFTER_S},
                            status_code=423, headers={"Retry-After": str(RETRY_AFTER_S)})
    rt.viewers[viewer.conn] = viewer
    return MJPEGStream(rt.encoders, viewer, rt.end_viewer)


def _too_often(wait: float) -> JSONResponse:
    retry = max(1, round(wait + 0.49))
    return JSONResponse({"error": "too many snapshots: try again shortly", "retry_after_s": retry},
                        status_code=429, headers={"Retry-After": str(retry)})


async def _snapshot(rt: Runtime, view: str, res: str) -> Picture | float | None:
    """A live view's current picture when it is being encoded; else one made now, one at a
    time and within the worker's budget (seconds to wait when over it)."""
    pic = rt.encoders.fresh_picture(view, res)
    if pic is not None:
        return pic
    async with rt.snapshot_lock:
        wait = rt.snapshot_encodes.take("all")
        if wait > 0:
            return wait
        return await asyncio.to_thread(rt.encoders.snapshot, view, res)


def create_app(cfg: Config) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = Runtime(cfg, asyncio.get_running_loop())
        app.state.rt = rt
        transport.announce()
        task = asyncio.create_task(rt.housekeeping())
        trim()
        try:
            yield
        finally:
            task.cancel()
            rt.close()

    app = FastAPI(title="SHT Dual LIVE Camera", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.cfg = cfg
    app.state.guard = guard = Guard(cfg)
    app.add_middleware(AccessControl, guard=guard)
    transport.admit_connections(cfg.streamer.max_connections)
    app.add_exception_handler(ParamError, param_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("request failed", exc_info=exc)
        return JSONResponse({"error": "internal error", "detail": type(exc).__name__}, status_code=500)

    @app.api_route("/stream", methods=["GET", "HEAD"])
    async def stream(request: Request, view: str | None = None, res: str | None = None) -> Response:
        rt: Runtime = request.app.state.rt
        view, res = _defaults(rt, view, res)
        if request.method == "HEAD":
            return _heartbeat(rt, view, res)
        return _open_stream(rt, request, view, res)

    @app.api_route("/stream/{camera_id}", methods=["GET", "HEAD"])
    async def stream_camera(camera_id: str, request: Request, res: str | None = None) -> Response:
        rt: Runtime = request.app.state.rt
        view, res = _defaults(rt, str(check_camera(cfg, camera_id)), res)
        if request.method == "HEAD":
            return _heartbeat(rt, view, res)
        return _open_stream(rt, request, view, res)

    @app.get("/snapshot")
    async def snapshot(request: Request, view: str | None = None, res: str | None = None) -> Response:
        rt: Runtime = request.app.state.rt
        view, res = _defaults(rt, view, res)
        wait = rt.snapshot_rate.take(identity(request).address)
        if wait > 0:
            return _too_often(wait)
        pic = await _snapshot(rt, view, res)
        if isinstance(pic, float):
            return _too_often(pic)
        if pic is None:
            return JSONResponse({"error": "no picture could be made", "view": view, "res": res}, status_code=503)
        live, _ = rt.watch.heartbeat(view, res)
        return Response(bytes(pic.jpeg), media_type="image/jpeg", headers={
            "X-Timestamp": f"{pic.wall_ns / 1e9:.6f}", "X-Frame-Index": str(pic.index),
            "X-Cameras-Live": ",".join(map(str, live)), "Cache-Control": "no-store"})

    @app.get("/api/status")
    async def api_status(request: Request) -> dict:
        return {**request.app.state.rt.status(), "low_data_viewers": live_h264_rows(request.app)}

    app.include_router(compat.router)
    app.include_router(params_router)
    app.include_router(live_h264_router)
    app.include_router(login.router)
    _mount_ui(app)
    return app


def _mount_ui(app: FastAPI) -> None:
    """The page and the recordings API, which live beside this module."""
    app.include_router(recordings_router)
    app.include_router(events_router)
    app.include_router(health_router)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        page = STATIC_DIR / "index.html"
        if not page.is_file():
            return JSONResponse({"error": "the web page is not installed (streamer/static/index.html)"},
                                status_code=404)
        return FileResponse(page, headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")


def _few_malloc_arenas() -> None:
    """glibc gives every thread its own heap arena; the encoder threads do not need them."""
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass  # not glibc


_few_malloc_arenas()
if not logging.getLogger().handlers:  # a spawned worker: log like the main process
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s")
app = create_app(load_or_exit())
