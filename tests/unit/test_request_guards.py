"""What a hostile request meets before any route: cookies, Host names, bodies, the headers of
every answer, the connection caps, and what a viewer is told."""
from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from common.archive import events as store
from common.config import ConfigError, load
from streamer.api.status import for_viewer
from streamer.app import create_app
from streamer.auth.access import Guard, Identity, own_names
from streamer.auth.bodies import BodyLimit
from streamer.auth.sessions import Sessions
from streamer.server.caps import REFUSALS, ConnectionCaps, Verdict
from tests.support.asgi_client import local_client
from tests.support.procs import isolated_env


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    """The whole app (no accounts, its lifespan not run), reached from this machine."""
    cfg = load(isolated_env(tmp_path / "sht"))
    yield local_client(create_app(cfg), 5000, follow_redirects=False), cfg.recordings_root


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


def test_every_answer_forbids_framing_and_sniffing_and_keeps_footage_out_of_caches(app) -> None:
    client, root = app
    s = store.EventStore(store.db_path(root))
    eid = s.open_event(0, 1e9, 1.0, 1.0, 2.0, None, 1e9)
    s.close_event(eid, 1e9 + 2, 2.0, "quiet", 1e9, 2.0, 2.5, None, 1e9, b"\xff\xd8\xff\xe0thumb")
    s.close()
    answers = {path: client.get(path) for path in (
        "/", "/static/app.js", f"/api/events/{eid}/thumbnail.jpg", "/api/events/99/thumbnail.jpg",
        "/recordings/cam0/261126/cam0_20261126_100000.mp4", "/api/session", "/nowhere")}
    assert answers[f"/api/events/{eid}/thumbnail.jpg"].status_code == 200
    for path, r in answers.items():
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "unsafe" not in csp, path
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "same-origin", path
    for path in (f"/api/events/{eid}/thumbnail.jpg", "/recordings/cam0/261126/cam0_20261126_100000.mp4",
                 "/api/session"):
        assert answers[path].headers["cache-control"] == "private, no-store", path
    assert answers["/"].headers["cache-control"] == "no-cache"       # the page itself: revalidated
    assert "cache-control" not in answers["/static/app.js"].headers  # the page's code: cacheable


def test_the_page_runs_no_inline_script_or_style() -> None:
    static = Path(__file__).resolve().parents[2] / "streamer" / "static"
    for page in static.glob("*.html"):
        html = page.read_text()
        # A JSON data block (the page's words) is never run: only files of this server are.
        data = html.count('<script type="application/json"')
        assert html.count("<script") == html.count('<script src="/static/') + data, page
        assert "<style" not in html and not re.search(r"\s(style|on[a-z]+)=", html), page


def test_bodies_are_limited_before_the_route(app) -> None:
    client, _ = app
    r = client.post("/login", content=b"u" * 4097, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["limit_bytes"] == 4096
    r = client.post("/login", content=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 400    # within the limit: the login route reads it
    for path in ("/api/recording/stop/0", "/api/resolution/640x480", "/logout"):
        r = client.post(path, content=b"x")
        assert r.status_code == 413 and r.json()["error"] == "this request takes no body", path
    r = client.request("GET", "/api/session", content=b"x" * 10)
    assert r.status_code == 413


def test_a_body_over_its_limit_is_not_read_further() -> None:
    """A declared length over the limit is refused unread; a chunked body is read only
    until it passes the limit."""
    pulled: list[int] = []
    answers: list[dict] = []

    async def endless() -> dict:
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: dict) -> None:
        answers.append(message)

    async def route(scope: dict, receive, send) -> None:
        raise AssertionError("the route must not run")

    limit = BodyLimit(route)
    for head, reads in (((b"content-length", b"314572800"), 0), ((b"transfer-encoding", b"chunked"), 5)):
        pulled.clear()
        answers.clear()
        scope = {"type": "http", "method": "POST", "path": "/login", "headers": [head]}
        asyncio.run(limit(scope, endless, send))
        assert len(pulled) == reads and answers[0]["status"] == 413


def test_a_viewer_is_not_told_who_else_is_watching_or_who_paused() -> None:
    status = {
        "viewers": [{"address": "192.168.1.20", "view": "0"}, {"address": "192.168.1.30", "view": "dual"}],
        "low_data_viewers": [{"address": "192.168.1.30", "skips": 0}],
        "controls": {"view": "dual", "recording": {"0": False}, "changed_by": "boss from 192.168.1.2",
                     "paused": {"0": {"by": "boss", "from": "192.168.1.2", "at": 5.0, "until": 65.0}}},
        "last_control": {"action": "recording paused on camera 0", "by": "boss", "from": "192.168.1.2", "at": 5.0},
    }
    seen = for_viewer(status, Identity("192.168.1.30", "eve", "viewer"))
    assert [r["address"] for r in seen["viewers"]] == [None, "192.168.1.30"]
    assert seen["low_data_viewers"] == [{"address": "192.168.1.30", "skips": 0}]
    assert seen["controls"]["paused"] == {"0": {"at": 5.0, "until": 65.0}}
    assert seen["controls"] == {"view": "dual", "recording": {"0": False}, "paused": {"0": {"at": 5.0, "until": 65.0}}}
    assert seen["last_control"] is None
    assert "boss" not in repr(seen) and "192.168.1.2'" not in repr(seen) and "192.168.1.20" not in repr(seen)
    assert status["last_control"]["by"] == "boss" and status["controls"]["changed_by"]   # the admins' is untouched


def test_connection_caps_per_address_and_the_reserve() -> None:
    caps = ConnectionCaps(16, 32, local=Guard.is_local, exempt=lambda a: a == "10.0.0.99")
    assert caps.per_address == 4 and caps.reserve == 2    # a quarter of the total at most; an eighth kept
    open_now = 0

    def connect(address: str) -> Verdict:
        nonlocal open_now
        verdict = caps.admit(address, open_now)
        open_now += verdict not in REFUSALS
        return verdict
    assert [connect("10.0.0.1") for _ in range(6)] == [Verdict.OPEN] * 4 + [Verdict.ADDRESS_BUSY] * 2
    assert [connect(f"10.0.0.{n}") for n in (2, 2, 2, 3, 3, 3, 4, 4, 4, 5)] == [Verdict.OPEN] * 10
    # 14 open: the last two are kept for this machine's browser and the admins.
    assert connect("10.0.0.6") is Verdict.PROVISIONAL and connect("127.0.0.1") is Verdict.OPEN
    assert connect("::1") is Verdict.BUSY and connect("10.0.0.7") is Verdict.BUSY
    caps.release("10.0.0.1")
    open_now -= 1
    assert connect("10.0.0.1") is Verdict.PROVISIONAL and connect("10.0.0.1") is Verdict.BUSY
    # A trusted proxy carries many clients: only the total holds it.
    proxy = ConnectionCaps(16, 4, exempt=lambda a: a == "10.0.0.99")
    assert all(proxy.admit("10.0.0.99", n) is Verdict.OPEN for n in range(14))
    for _ in range(20):
        proxy.release("10.0.0.99")
    assert proxy.held == {} and ConnectionCaps().admit("10.0.0.1", 10**6) is Verdict.OPEN


def test_refusals_are_well_formed_answers() -> None:
    for verdict, status in ((Verdict.BUSY, b"503"), (Verdict.ADDRESS_BUSY, b"429")):
        head, _, body = REFUSALS[verdict].partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 " + status) and b"\r\nconnection: close" in head
        assert int(head.split(b"content-length: ")[1].split(b"\r\n")[0]) == len(body)
        assert "too many open connections" in json.loads(body)["error"]


def test_the_per_address_connection_setting_is_checked(tmp_path: Path) -> None:
    base = {"SHT_CONFIG": "/dev/null", "SHT__PATHS__RUN_DIR": str(tmp_path / "run")}
    assert load(base).security.max_connections_per_address == 32
    with pytest.raises(ConfigError, match=r"security\.max_connections_per_address"):
        load({**base, "SHT__SECURITY__MAX_CONNECTIONS_PER_ADDRESS": "0"})
