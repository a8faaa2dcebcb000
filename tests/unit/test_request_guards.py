"""What a hostile request meets before any route: cookies, Host names, bodies, the headers of
every answer, the connection caps, and what a viewer is told."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from common.config import load
from streamer.auth.access import Guard, own_names
from streamer.auth.sessions import Sessions


def test_a_cookie_that_is_not_ascii_is_a_bad_session() -> None:
    s = Sessions(os.urandom(32))
    token = s.issue("boss", "hash-1")
    payload, sig = token.split(".")
    for bad in ("a.\xe9", "a.\u00e9\u00e9", payload + "." + sig[:-1] + "\xe9", "\u0430." + sig, "a.\udcff"):
        assert s.read(bad) is None, bad


def test_only_this_machines_own_mdns_name_passes_the_host_check(tmp_path: Path) -> None:
    assert own_names("Camera-Pi.lan.") == {"localhost", "camera-pi.lan", "camera-pi", "camera-pi.local"}
    g = Guard(load({"SHT_CONFIG": "/dev/null", "SHT__PATHS__RUN_DIR": str(tmp_path / "run")}))
    me = socket.gethostname().lower().split(".")[0]
    for ok in (f"{me}.local", f"{me.upper()}.LOCAL.:8001", "localhost", "127.0.0.1", "[::1]:80", "192.168.1.20"):
        assert g.host_ok(ok), ok
    # Anyone on the LAN can answer for another .local name (a page could rebind it to us).
    for bad in ("evil.local", f"{me}x.local", f"x.{me}.local", "local", "", " ", ":8001"):
        assert not g.host_ok(bad), bad
