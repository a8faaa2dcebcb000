"""What a request may ask for: views, resolutions, cameras, and the 4xx answer otherwise.

Every refusal is JSON naming the field and the allowed values, never a 500.
"""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from common.config import Config


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


KB = 1024
RESOLUTIONS: dict[str, Resolution] = {
    "480p": Resolution("480p", "sd", 640, 480, 16 * KB, 512 * KB, 2 * KB, 200 * KB, "640x480"),
    "720p": Resolution("720p", "hd", 1280, 720, 32 * KB, 2048 * KB, 5 * KB, 500 * KB, "1280x720"),
}
LEGACY_RESOLUTIONS = {r.legacy: r.name for r in RESOLUTIONS.values()}


class ParamError(Exception):
    """A request parameter outside its allowed values (answered with 400)."""

    def __init__(self, field: str, value: object, allowed: list[str], status: int = 400) -> None:
        super().__init__(f"{field}={value!r}")
        self.field, self.value, self.allowed, self.status = field, value, allowed, status

    def body(self) -> dict:
        return {"error": f"invalid {self.field} {self.value!r}: allowed values are {', '.join(self.allowed)}",
                "field": self.field, "allowed": self.allowed}


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


async def param_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ParamError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own validation errors, in the same shape as ours."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
    field = loc[-1] if loc else "request"
    msg = first.get("msg", "invalid value")
    allowed = first.get("ctx", {}).get("expected", "")
    return JSONResponse({"error": f"invalid {field}: {msg}", "field": field,
                         "allowed": [allowed] if allowed else []}, status_code=422)
