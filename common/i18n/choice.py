"""Which language a request gets: the ``lang`` cookie the page's switch sets, else the
browser's ``Accept-Language`` (its q-values honoured), else English."""
from __future__ import annotations

from common.i18n.catalogue import DEFAULT, LANGUAGES

COOKIE = "lang"
MAX_RANGES = 20     # a longer header is read only this far


def _ranked(accept_language: str) -> list[tuple[float, int, str]]:
    ranked = []
    for order, part in enumerate(accept_language.split(",")[:MAX_RANGES]):
        tag, _, rest = part.strip().partition(";")
        q = 1.0
        if rest.strip().startswith("q="):
            try:
                q = float(rest.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, order, primary))
    return sorted(ranked)


def choose(accept_language: str | None, cookie: str | None = None) -> str:
    """The language for a request: the cookie when it names one we have, else the browser's
    most wanted language we have (the first listed wins a tie), else :data:`DEFAULT`."""
    if cookie in LANGUAGES:
        return cookie
    ranked = _ranked(accept_language or "")
    return ranked[0][2] if ranked else DEFAULT
