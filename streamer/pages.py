"""The web pages: one shell (head, icon, style sheet) around each page's own body, in the
request's language.

The files live in ``streamer/static``: ``page.html`` is the shell, ``<name>.body.html`` a
page's body.  A body writes its words as ``{{key}}`` (a key of the message catalogue,
``common.i18n``), filled in here; the page's scripts get the language's catalogue, the
camera names and the cameras' time zone in a JSON data block (not a script: the CSP holds).
"""
from __future__ import annotations

import json
import re
from functools import cache
from html import escape
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from common.clock import utc_offset_s
from common.config import Config
from common.i18n import PLACEHOLDER, catalogue, text
from streamer.errors import error_response
from streamer.language import language_headers, language_of

STATIC_DIR = Path(__file__).resolve().parent / "static"
TITLES = {"index": "app.title", "login": "login.title"}
MARKER = re.compile(r"\{\{([a-z0-9_.]+)\}\}")   # a catalogue key in a page body
CAMERAS = (0, 1)


@cache
def _files(name: str) -> tuple[str, str]:
    return ((STATIC_DIR / "page.html").read_text(encoding="utf-8"),
            (STATIC_DIR / f"{name}.body.html").read_text(encoding="utf-8"))


def camera_names(cfg: Config, lang: str) -> dict[str, str]:
    """Each camera's name on the page: the configured one, else "Camera 0" in ``lang``."""
    return {str(cam): cfg.configured_name(cam) or text(lang, "camera.default", n=cam) for cam in CAMERAS}


def render(name: str, lang: str, cfg: Config) -> str:
    shell, body = _files(name)
    names = camera_names(cfg, lang)
    words = {**catalogue(lang), **{f"cam.{cam}": n for cam, n in names.items()}}
    body = MARKER.sub(lambda m: escape(words[m[1]]), body)
    data = {"lang": lang, "placeholder": PLACEHOLDER, "messages": catalogue(lang), "cameras": names,
            "utc_offset_s": utc_offset_s()}
    # "<" escaped: nothing inside the block can end it.
    block = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return shell.format(lang=lang, title=escape(text(lang, TITLES[name])), body=body, data=block)


def page(name: str, request: Request) -> Response:
    """The page ``name`` (a key of TITLES) in the request's language, or a 404 naming the missing file."""
    lang = language_of(request.headers)
    try:
        html = render(name, lang, request.app.state.cfg)
    except OSError as exc:
        return error_response(404, "page_missing", lang, file=str(exc.filename))
    return HTMLResponse(html, headers={"Cache-Control": "no-cache", **language_headers(lang)})
