"""The streamer's web app, assembled: access control, the live routes, the API, the recordings, the page.

:func:`create_app` builds it (uvicorn's factory mode calls it once in each worker process);
importing this module builds nothing.  A worker's live parts and the API's context are
made when its event loop starts and closed when it stops.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from common.config import Config, load_or_exit
from common.process.logs import limit_repeats
from common.process.memory import limit_arenas, trim
from common.state.board import StatusBoard
from common.state.controls import Controls
from streamer import api, archive, auth, live, pages, server
from streamer.params import ParamError, param_error_handler, validation_error_handler
from streamer.params import router as params_router

log = logging.getLogger("streamer")


def create_app(cfg: Config | None = None) -> FastAPI:
    """The app for ``cfg`` (by default the installation's configuration; exit 2 if it is bad)."""
    _prepare_process()
    cfg = load_or_exit() if cfg is None else cfg

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        controls = Controls(cfg.run_dir, cfg.streamer.default_view, cfg.streamer.default_resolution,
                            cfg.camera.count)
        runtime = live.LiveRuntime(cfg, asyncio.get_running_loop(), controls)
        app.state.live = runtime
        app.state.rt = api.ApiContext(cfg, controls, StatusBoard.for_config(cfg), runtime)
        server.announce()
        runtime.start()
        trim()
        try:
            yield
        finally:
            runtime.close()

    app = FastAPI(title="SHT Dual LIVE Camera", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.cfg = cfg
    app.state.guard = guard = auth.Guard(cfg)
    # The last added runs first: every answer gets the browser policy, and a body is read
    # (within its limit) only once the access check has let the request in.
    app.add_middleware(auth.BodyLimit)
    app.add_middleware(auth.AccessControl, guard=guard)
    app.add_middleware(auth.BrowserPolicy)
    server.admit_connections(cfg.streamer.max_connections, cfg.security.max_connections_per_address,
                             local=guard.is_local, exempt=guard.is_proxy)
    auth.attach_audit(cfg.path(cfg.paths.log_dir), cfg.run_dir)
    app.add_exception_handler(ParamError, param_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("request failed", exc_info=exc)
        return JSONResponse({"code": "internal", "error": "internal error", "detail": type(exc).__name__},
                            status_code=500)

    for router in (live.router, api.status_router, api.controls_router, params_router, auth.login_router,
                   archive.recordings_router, archive.events_router, archive.health_router, archive.export_router):
        app.include_router(router)
    _mount_page(app)
    return app


def _mount_page(app: FastAPI) -> None:
    """The page and its files, which live beside this module."""
    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        return pages.page("index", request)

    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR, check_dir=False), name="static")


def _prepare_process() -> None:
    """A worker process: few heap arenas (common.process.memory); a spawned worker logs like
    the main process, repeats limited."""
    limit_arenas()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s")
    # A flood of bad requests must not rotate the log away (uvicorn's own lines included).
    limit_repeats("uvicorn")
