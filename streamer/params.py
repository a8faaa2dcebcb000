"""What a request may ask for: views, resolutions, cameras, dates, and the 4xx answer otherwise.

Every refusal is JSON naming the field and the allowed values, never a 500.  The recordings
and events APIs' refusals also echo the value (:class:`ParamValueError`); their routers
answer with :meth:`ParamError.response` themselves, so they work without the app's handler.
``GET /api/config`` tells the page the same: views, cameras and each resolution's size.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from common.archive import segment_name
from common.config import Config
from common.i18n import DEFAULT
from common.video.streams import STREAMS
from streamer.errors import error_body, error_response
from streamer.language import language_of

router = APIRouter()


@dataclass(frozen=True)
class Resolution:
    name: str            # "480p" | "720p"
    stream: str          # ring stream: "sd" | "hd"
    width: int           # one camera's picture
    height: int
    chunk: int           # bytes per socket write
    buffer_limit: int    # most bytes a viewer may have pending
    min_jpeg: int        # sanity bounds for one camera's picture
    max_jpeg: int
    legacy: str          # the old API's name: "640x480" | "1280x720"


def _resolution(stream: str, chunk: int, buffer_limit: int, min_jpeg: int, max_jpeg: int) -> Resolution:
    w, h = STREAMS[stream]
    return Resolution(f"{h}p", stream, w, h, chunk, buffer_limit, min_jpeg, max_jpeg, f"{w}x{h}")


KB = 1024
RESOLUTIONS: dict[str, Resolution] = {r.name: r for r in (
    _resolution("sd", 16 * KB, 512 * KB, 2 * KB, 200 * KB),
    _resolution("hd", 32 * KB, 2048 * KB, 5 * KB, 500 * KB),
)}
LEGACY_RESOLUTIONS = {r.legacy: r.name for r in RESOLUTIONS.values()}


class ParamError(Exception):
    """A request parameter outside its allowed values (answered with 400)."""

    code = "bad_value"

    def __init__(self, field: str, value: object, allowed: list[str], status: int = 400) -> None:
        super().__init__(f"{field}={value!r}")
        self.field, self.value, self.allowed, self.status = field, value, allowed, status

    def fields(self) -> dict[str, Any]:
        return {"field": self.field, "allowed": self.allowed}

    def say(self) -> dict[str, Any]:
        """What fills the message beyond the body's fields."""
        return {"value": repr(self.value), "allowed": ", ".join(self.allowed)}

    def body(self, lang: str = DEFAULT) -> dict[str, Any]:
        return error_body(self.code, lang, say=self.say(), **self.fields())

    def response(self, request: Request) -> JSONResponse:
        return error_response(self.status, self.code, language_of(request.headers), say=self.say(), **self.fields())


class ParamValueError(ParamError):
    """A 400 that says what is wrong in its own words (the message ``error.<code>``, filled in
    with ``details``) and echoes the value it refuses."""

    def __init__(self, field: str, value: str | None, allowed: list[str], code: str, **details: Any) -> None:
        super().__init__(field, value, allowed)
        self.code, self.details = code, details

    def fields(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "allowed": self.allowed}

    def say(self) -> dict[str, Any]:
        return {**super().say(), **self.details}


def cameras(cfg: Config) -> list[str]:
    return [str(cam) for cam in range(cfg.camera.count)]


def views(cfg: Config) -> list[str]:
    cams = cameras(cfg)
    return (["dual"] if len(cams) > 1 else []) + cams


def view_cameras(view: str) -> list[int]:
    """Cameras shown by a view, left to right."""
    return [0, 1] if view == "dual" else [int(view)]


def check_view(cfg: Config, value: str, field: str = "view") -> str:
    if value not in views(cfg):
        raise ParamError(field, value, views(cfg))
    return value


def check_res(value: str, field: str = "res") -> Resolution:
    if value not in RESOLUTIONS:
        raise ParamError(field, value, list(RESOLUTIONS))
    return RESOLUTIONS[value]


def check_camera(cfg: Config, value: str, field: str = "camera_id") -> int:
    if value not in cameras(cfg):
        raise ParamError(field, value, cameras(cfg))
    return int(value)


def parse_camera(cfg: Config, raw: str | None) -> int:
    """The ``camera`` query of the recordings and events APIs (None: left out)."""
    allowed = cameras(cfg)
    if raw is None:
        raise ParamValueError("camera", None, allowed, "missing_camera")
    if raw not in allowed:
        raise ParamValueError("camera", raw, allowed, "bad_value")
    return int(raw)


def parse_date(raw: str) -> str:
    """The ``date`` query (a recordings day folder, YYMMDD) of the recordings and events APIs."""
    error = segment_name.day_error(raw)
    if error:
        raise ParamValueError("date", raw, ["YYMMDD (a calendar date, e.g. 261126)"], "bad_date", detail=error)
    return raw


LOCAL_TIME_SHAPE = "YYYY-MM-DDTHH:MM[:SS]"   # the API's local times, as <input type="datetime-local"> sends them
_LOCAL_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?", re.ASCII)


def local_time_text(when: datetime) -> str:
    """A local time as the recordings and export APIs write it: ``2026-12-04T14:02:10``."""
    return when.isoformat(timespec="seconds")


def parse_local_time(field: str, raw: str | None) -> datetime:
    """A local time (this machine's time zone, the cameras') in the shape :func:`local_time_text` writes;
    seconds may be left out.  In the hour repeated when the clocks go back, the first one."""
    allowed = [f"{LOCAL_TIME_SHAPE} (local time, e.g. 2026-12-04T14:02:10)"]
    if raw is None:
        raise ParamValueError(field, None, allowed, "missing_time", shape=LOCAL_TIME_SHAPE)
    if not _LOCAL_TIME_RE.fullmatch(raw):
        raise ParamValueError(field, raw, allowed, "bad_time_shape", shape=LOCAL_TIME_SHAPE)
    try:
        when = datetime.fromisoformat(raw)
        when.timestamp()   # a moment the clock can tell (not year 1 east of UTC)
    except (ValueError, OverflowError, OSError):
        raise ParamValueError(field, raw, allowed, "bad_time") from None
    return when


@router.get("/api/config")
async def page_config(request: Request) -> dict[str, Any]:
    """What the page may offer, and the picture size of each resolution (one camera's)."""
    cfg: Config = request.app.state.cfg
    return {"views": views(cfg), "cameras": cameras(cfg),
            "resolutions": {r.name: {"width": r.width, "height": r.height} for r in RESOLUTIONS.values()}}


async def param_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ParamError)
    return exc.response(request)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own validation errors, in the same shape as ours."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
    field = loc[-1] if loc else "request"
    msg = first.get("msg", "invalid value")
    allowed = first.get("ctx", {}).get("expected", "")
    return error_response(422, "invalid_request", language_of(request.headers), say={"detail": msg},
                          field=field, allowed=[allowed] if allowed else [])
