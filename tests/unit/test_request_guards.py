"""What a hostile request meets before any route: cookies, Host names, bodies, the headers of
every answer, the connection caps, and what a viewer is told."""
from __future__ import annotations

import os

from streamer.auth.sessions import Sessions


def test_a_cookie_that_is_not_ascii_is_a_bad_session() -> None:
    s = Sessions(os.urandom(32))
    token = s.issue("boss", "hash-1")
    payload, sig = token.split(".")
    for bad in ("a.\xe9", "a.\u00e9\u00e9", payload + "." + sig[:-1] + "\xe9", "\u0430." + sig, "a.\udcff"):
        assert s.read(bad) is None, bad
