"""The language of a request and what a translated answer says about it.

The page's switch sets the ``lang`` cookie; without it the browser's ``Accept-Language``
decides (see :func:`common.i18n.choose`).  A translated answer names its language
(``Content-Language``) and tells caches it varies with both.
"""
from __future__ import annotations

from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie

from common.i18n import COOKIE, choose

VARY = "Accept-Language, Cookie"


def _cookie(header: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None


def language_of(headers: Mapping[str, str]) -> str:
    """The language for a request with these headers (lower-case names, as Starlette's)."""
    return choose(headers.get("accept-language"), _cookie(headers.get("cookie", "")))


def raw_language(raw: list[tuple[bytes, bytes]]) -> str:
    """:func:`language_of` for an ASGI scope's raw header list."""
    wanted = {b"accept-language", b"cookie"}
    return language_of({k.decode("latin-1"): v.decode("latin-1") for k, v in raw if k in wanted})


def language_headers(lang: str) -> dict[str, str]:
    return {"Content-Language": lang, "Vary": VARY}
