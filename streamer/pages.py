"""The web pages: one shell (head, icon, style sheet) around each page's own body.

The files live in ``streamer/static``: ``page.html`` is the shell, ``<name>.body.html`` a
page's body.  A page is put together once per worker and then served from memory.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi.responses import HTMLResponse, JSONResponse, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
TITLES = {"index": "SHT Dual LIVE Camera", "login": "Log in · SHT Dual LIVE Camera"}


@cache
def _render(name: str) -> str:
    shell = (STATIC_DIR / "page.html").read_text(encoding="utf-8")
    body = (STATIC_DIR / f"{name}.body.html").read_text(encoding="utf-8")
    return shell.format(lang="en", title=TITLES[name], body=body)


def page(name: str) -> Response:
    """The page ``name`` (a key of TITLES), or a 404 naming the missing file."""
    try:
        html = _render(name)
    except OSError as exc:
        return JSONResponse({"error": f"the web page is not installed ({exc.filename})"}, status_code=404)
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
