"""Every route of the app's OpenAPI schema, with generated path and query parameters,
against a real streamer: no answer may be a server error (>= 500, other than a camera's
honest 503 "no picture" / "no live camera"), and the streamer must stay up."""
from __future__ import annotations

import base64
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.security_rig import SecureSystem, openapi

EXAMPLES = 3000
BUDGET_S = 45.0      # examples left when it is spent are not sent (a live feed may wait seconds to answer)
HONEST_503 = (b"no picture", b"no video")   # a camera without a picture or video says so
KNOWN = {"camera_id": ["0", "1", "2", "-1", "00"], "enabled": ["true", "false", "TRUE"],
         "resolution": ["640x480", "1280x720"], "view": ["dual", "0", "1"], "res": ["480p", "720p"],
         "camera": ["0", "1", "both"], "date": ["260101", "991231", "000000"], "download": ["1", "0"],
         "from": ["2026-01-01T00:00", "0001-01-01T00:00", "9999-12-31T23:59:59", "2026-02-30T00:00"],
         "to": ["2026-01-01T00:30", "2026-01-01T00:00:00", "9999-12-31T23:59:59"], "check": ["1", "0"],
         "rel": ["cam0/260101/cam0_20260101_000000.mp4", "../../etc/passwd", "cam0/../../x", "%2e%2e/x"]}
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=80)
HOSTILE = st.sampled_from(["", " ", "..", "%", "%00", "\x00", "a" * 5000, "\u202e", "0x1", "1e9", "NaN",
                           "-0", "9" * 40, "/", "//", "\\", "'\"<>", "{}", "[]"])


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureSystem]:
    with SecureSystem(tmp_path_factory.mktemp("fuzz")) as sysm:
        # Recorders too: the live H.264 route answers from their packet rings.
        yield sysm.start(recorders=(0, 1))


def operations(doc: dict[str, Any]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    ops = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            params = [(p["name"], p["in"]) for p in op.get("parameters", [])]
            ops.append((method.upper(), path, params))
    return ops


def value(name: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(KNOWN.get(name, ["x"])), TEXT, HOSTILE)


@st.composite
def requests(draw: st.DrawFn, ops: list) -> tuple[str, str, dict[str, str]]:
    method, path, params = draw(st.sampled_from(ops))
    query: dict[str, str] = {}
    for name, where in params:
        if where == "path":
            raw = draw(value(name).filter(lambda v: v != ""))
            # A path parameter may hold slashes only where the route takes a path.
            path = path.replace("{" + name + "}", quote(raw, safe="/" if name == "rel" else ""))
        elif where == "query" and draw(st.booleans()):
            query[name] = draw(value(name))
    if draw(st.integers(0, 9)) == 0:
        query[draw(st.sampled_from(["view", "res", "x", "camera"]))] = draw(TEXT)  # repeated or unknown
    return method, path, query


def test_no_route_answers_a_server_error(system: SecureSystem, tmp_path: Path) -> None:
    ops = operations(openapi(system.env))
    assert len(ops) >= 15
    seen: Counter[int] = Counter()
    bad: list[str] = []
    client = httpx.Client(base_url=system.origin, timeout=10)
    t0 = time.monotonic()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(requests(ops))
    def one(req: tuple[str, str, dict[str, str]]) -> None:
        if time.monotonic() - t0 > BUDGET_S:
            return
        method, path, query = req
        with client.stream(method, path, params=query) as r:   # a stream is left after its head
            seen[r.status_code] += 1
            if r.status_code >= 500:
                body = r.read()[:300] if r.headers.get("content-type", "").startswith("application/json") else b""
                honest = r.status_code == 503 and (any(h in body for h in HONEST_503)
                                                   or (b"" == body and method == "HEAD"))
                if not honest:
                    bad.append(f"{method} {path} {query} -> {r.status_code} {body!r}")
    try:
        one()
    finally:
        client.close()
    took = time.monotonic() - t0
    print(f"\nfuzz: {sum(seen.values())} requests over {len(ops)} operations in {took:.1f} s; "
          f"answers {dict(sorted(seen.items()))}")
    assert not bad, bad[:10]
    assert sum(seen.values()) >= 1000
    assert system.procs.running["streamer"].poll() is None
    assert "Traceback" not in system.log() and "request failed" not in system.log()


HEADER_EXAMPLES = 2400
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=120)
# Raw header bytes as a hostile client sends them: Latin-1 and broken UTF-8 included.
HEADER_BYTES = st.binary(max_size=120).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\0", b""))


@st.composite
def hostile_headers(draw: st.DrawFn, port: int) -> dict[bytes, bytes]:
    own = f"127.0.0.1:{port}"
    headers: dict[bytes, bytes] = {}
    choices = {
        "Host": st.one_of(st.sampled_from([own, "localhost", "evil.example", "", "[::1]", "[", "a:b:c", "x.local.",
                                           "evil.local", f"{socket.gethostname()}.local", b"\xe9.local"]),
                          HEADER_BYTES),
        "Origin": st.one_of(st.sampled_from([f"http://{own}", "null", "http://evil.example", "://", "",
                                             "http://evil.local", b"http://\xe9"]), HEADER_TEXT, HEADER_BYTES),
        "Referer": st.one_of(st.sampled_from([f"http://{own}/", "http://[::1"]), HEADER_TEXT),
        "Authorization": st.one_of(
            st.sampled_from(["Basic ", "Basic !!!!", "Basic " + "QQ==" * 300, "Bearer x", "basic Ym9zczp4",
                             "Basic Ym9zcw==", "Basic OmZvbw==", "Basic 6Tp4", b"Basic \xe9\xe9",
                             "Basic " + base64.b64encode(b"boss:\xff\xfe").decode()]), HEADER_TEXT, HEADER_BYTES),
        "Cookie": st.one_of(st.sampled_from(["sht_session=", "sht_session=a.b", "sht_session=" + "a" * 900 + ".b",
                                             'sht_session="x', "=;=;", "sht_session=e30.e30",
                                             'sht_session="a.\\351"', b'sht_session="a.\xe9"',
                                             b"sht_session=\xff.\xfe"]), HEADER_TEXT, HEADER_BYTES),
        "X-Forwarded-For": st.one_of(st.sampled_from(["192.168.1.20", "8.8.8.8", ",,,", "::1, x"]), HEADER_TEXT),
        "Content-Type": st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]),
    }
    for name, strategy in choices.items():
        if draw(st.booleans()):
            value = draw(strategy)
            raw = value if isinstance(value, bytes) else value.encode("latin-1")
            headers[name.encode()] = raw.strip()   # (the client refuses edge blanks)
    return headers


@pytest.fixture(scope="module")
def locked_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureSystem]:
    """Accounts defined, and a trusted proxy at 127.0.0.1: every header the access checks read matters."""
    with SecureSystem(tmp_path_factory.mktemp("fuzz-locked"), security__trusted_proxies='["127.0.0.1/32"]') as sysm:
        sysm.add_user("boss", "correct horse", "admin")
        yield sysm.start(headers={"Authorization": "Basic Ym9zczpjb3JyZWN0IGhvcnNl"})


def test_hostile_headers_get_no_server_error(locked_system: SecureSystem) -> None:
    sysm = locked_system
    ops = list(operations(openapi(sysm.env)))
    seen: Counter[int] = Counter()
    bad: list[str] = []
    clients: dict[str, httpx.Client] = {}
    t0 = time.monotonic()

    @settings(max_examples=HEADER_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(requests(ops), hostile_headers(sysm.port), st.integers(2, 40), st.binary(max_size=300))
    def one(req: tuple[str, str, dict[str, str]], headers: dict[bytes, bytes], source: int, body: bytes) -> None:
        method, path, query = req
        src = f"127.0.0.{source}"
        if src not in clients:
            clients[src] = httpx.Client(base_url=sysm.origin, timeout=10,
                                        transport=httpx.HTTPTransport(local_address=src))
        content = body if method == "POST" else None
        try:
            with clients[src].stream(method, path, params=query, headers=headers, content=content) as r:
                seen[r.status_code] += 1
                if r.status_code >= 500:
                    body_text = r.read()[:300]
                    if not (r.status_code == 503 and (any(h in body_text for h in HONEST_503) or method == "HEAD")):
                        bad.append(f"{method} {path} {query} {headers} -> {r.status_code} {body_text!r}")
        except httpx.LocalProtocolError:
            assume(False)   # a request the client library itself will not send
    try:
        one()
    finally:
        for c in clients.values():
            c.close()
    print(f"\nheader fuzz: {sum(seen.values())} requests in {time.monotonic() - t0:.1f} s; "
          f"answers {dict(sorted(seen.items()))}")
    assert not bad, bad[:10]
    assert sum(seen.values()) >= 2000 and seen[401] > 0 and seen[403] > 0 and seen[421] > 0
    assert sysm.procs.running["streamer"].poll() is None
    assert "Traceback" not in sysm.log() and "request failed" not in sysm.log()
