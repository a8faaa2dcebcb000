"""Hostile requests against a real streamer with accounts: huge bodies, broken cookies,
foreign Host names, many connections from one address, and what every answer tells the
browser and a viewer."""
from __future__ import annotations

import base64
import socket
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.procs import wait_until
from tests.support.security_rig import SecureSystem, raw_request

BOSS = ("boss", "correct horse")
EVE = ("eve", "battery staple")
BIG_BODY = 300 * 1024 * 1024
CHUNK = 1024 * 1024


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureSystem]:
    with SecureSystem(tmp_path_factory.mktemp("requests"), cameras=(0,)) as sysm:
        sysm.add_user(*BOSS, "admin")
        sysm.add_user(*EVE, "viewer")
        yield sysm.start(headers={"Authorization": basic(*BOSS)})


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@contextmanager
def logged_in(sysm: SecureSystem, who: tuple[str, str], source: str = "127.0.0.1") -> Iterator[httpx.Client]:
    with sysm.client(source) as client:
        r = client.post("/login", json={"user": who[0], "password": who[1]})
        assert r.status_code == 200, r.text
        yield client


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def upload(port: int, head: bytes, total: int, chunked: bool) -> tuple[bytes, int]:
    """Send ``head`` and ``total`` bytes of body as fast as the server takes them; the
    server's answer (read meanwhile) and the bytes it took before it closed."""
    answer = bytearray()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)

    def read() -> None:
        try:
            while chunk := sock.recv(65536):
                answer.extend(chunk)
        except OSError:
            pass
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    piece = b"x" * CHUNK
    if chunked:
        piece = f"{CHUNK:x}\r\n".encode() + piece + b"\r\n"
    try:
        sock.sendall(head)
        while sent < total:
            sock.sendall(piece)
            sent += CHUNK
    except OSError:
        pass     # the server closed it
    finally:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        reader.join(30)
        sock.close()
    return bytes(answer), sent


def test_a_300_mb_login_body_does_not_raise_the_streamers_memory(system: SecureSystem) -> None:
    pid = system.procs.running["streamer"].pid
    figures = []
    for chunked in (False, True):
        length = b"transfer-encoding: chunked" if chunked else f"content-length: {BIG_BODY}".encode()
        head = (b"POST /login HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
                + length + b"\r\n\r\n")
        before = peak_rss_kb(pid)
        t0 = time.monotonic()
        answer, sent = upload(system.port, head, BIG_BODY, chunked)
        took = time.monotonic() - t0
        after = peak_rss_kb(pid)
        assert status_of(answer) == 413 and b'"limit_bytes":4096' in answer, answer[:300]
        kind = "chunked" if chunked else "declared"
        figures.append(f"{kind}: peak RSS {before / 1024:.1f} -> {after / 1024:.1f} MB, "
                       f"{sent / 2**20:.0f} MB sent in {took:.1f} s")
        assert after - before < 5 * 1024, figures[-1]
    print("\n300 MB POST /login: " + "; ".join(figures))
    assert system.get("/api/session").status_code == 200


def test_a_broken_cookie_is_no_server_error_and_floods_no_log(system: SecureSystem) -> None:
    log_before = len(system.log())
    for path in (b"/login", b"/static/app.js", b"/api/status", b"/", b"/api/session"):
        for cookie in (b'sht_session="a.\xe9"', b"sht_session=a.\xe9\xe9", b"sht_session=\xff.\xfe; x=\x80"):
            answer = raw_request(system.port, b"GET " + path + b" HTTP/1.1\r\nhost: localhost\r\ncookie: " + cookie
                                 + b"\r\nconnection: close\r\n\r\n")
            assert status_of(answer) < 500, (path, cookie, answer[:300])
    with system.client() as client:
        for _ in range(300):
            assert client.get("/login", headers={"Cookie": 'sht_session="a.\\351"'}).status_code < 500
    grown = len(system.log()) - log_before
    assert "Traceback" not in system.log() and grown < 4000, grown


def test_the_audit_trail_keeps_logins_and_controls_in_its_own_file(system: SecureSystem) -> None:
    with logged_in(system, BOSS) as boss:
        assert boss.post("/api/recording/stop/0").status_code == 200
        assert boss.post("/api/recording/start/0").status_code == 200
        assert boss.post("/logout").status_code == 200
    audit = Path(system.env["SHT__PATHS__LOG_DIR"]) / "audit.log"
    text = audit.read_text()
    assert " login: boss (admin) from 127.0.0.1\n" in text
    assert " control: recording paused on camera 0 by boss from 127.0.0.1" in text
    assert " control: recording resumed on camera 0 by boss from 127.0.0.1" in text
    assert " logout: boss from 127.0.0.1\n" in text
    assert stat.S_IMODE(audit.stat().st_mode) == 0o640
    # Refused requests write nothing there, however many.
    size = audit.stat().st_size
    with system.client("127.0.0.9") as client:
        for _ in range(200):
            client.post("/login", json={"user": "nobody", "password": "wrong"})
            client.post("/api/recording/stop/0", headers={"Host": "evil.local"})
    assert audit.stat().st_size == size


def test_host_names_and_a_missing_host(system: SecureSystem) -> None:
    own = f"{socket.gethostname()}.local"
    assert system.get("/api/session", headers={"Host": own}).status_code == 200
    for host in ("evil.local", f"evil.{own}", "local"):
        assert system.get("/api/session", headers={"Host": host}).status_code == 421, host
    # The rebinding: a page at evil.local, resolved to this machine, posting as itself.
    with logged_in(system, BOSS) as boss:
        r = boss.post("/api/resolution/640x480", headers={"Host": "evil.local", "Origin": "http://evil.local"})
        assert r.status_code == 421
    answer = raw_request(system.port, b"GET /api/session HTTP/1.0\r\n\r\n")
    assert status_of(answer) == 400 and b"no Host header" in answer


def test_answers_forbid_framing_and_keep_footage_out_of_caches(system: SecureSystem) -> None:
    with logged_in(system, BOSS) as boss:
        page = boss.get("/")
        assert page.status_code == 200 and "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
        for path in ("/api/status", "/snapshot?view=0", "/stream?view=0&res=480p", "/api/recordings?camera=0"):
            with boss.stream("GET", path) as r:
                assert r.status_code == 200 and r.headers["cache-control"] == "private, no-store", path
                assert r.headers["x-content-type-options"] == "nosniff", path


def test_a_viewer_sees_no_one_elses_name_or_address(system: SecureSystem) -> None:
    with logged_in(system, BOSS) as boss, logged_in(system, EVE, "127.0.0.7") as eve, \
            boss.stream("GET", "/stream?view=0&res=480p") as watching:
        assert watching.status_code == 200
        assert boss.post("/api/recording/stop/0").status_code == 200
        try:
            wait_until(lambda: len(eve.get("/api/status").json()["viewers"]) >= 1, 10, interval=0.2)
            for_admin, for_viewer = boss.get("/api/status").json(), eve.get("/api/status").json()
        finally:
            assert boss.post("/api/recording/start/0").status_code == 200
    assert for_admin["last_control"]["by"] == "boss" and for_admin["controls"]["paused"]["0"]["by"] == "boss"
    assert any(v["address"] == "127.0.0.1" for v in for_admin["viewers"])
    assert for_viewer["last_control"] is None and "by" not in for_viewer["controls"]["paused"]["0"]
    assert for_viewer["controls"]["recording"]["0"] is False
    assert all(v["address"] is None for v in for_viewer["viewers"])
    assert "boss" not in str(for_viewer) and "127.0.0.1" not in str(for_viewer)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureSystem]:
    """streamer.max_connections = 16: 4 per address, the last 2 kept for localhost and admins."""
    with SecureSystem(tmp_path_factory.mktemp("caps"), cameras=(0,), streamer__max_connections=16) as sysm:
        sysm.add_user(*BOSS, "admin")
        sysm.add_user(*EVE, "viewer")
        sysm.start(headers={"Authorization": basic(*BOSS), "Connection": "close"})
        yield sysm


class KeptAlive:
    """Keep-alive connections that each make a cheap request every few seconds."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.socks: list[socket.socket] = []

    def open(self, source: str) -> int:
        """A new connection from ``source`` and its first request: the answer's status."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=(source, 0))
        status = self.ask(s)
        if status in (429, 503):
            s.close()
        else:
            self.socks.append(s)
        return status

    @staticmethod
    def ask(s: socket.socket) -> int:
        s.sendall(b"GET /api/session HTTP/1.1\r\nhost: localhost\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + content_length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return status_of(data)

    def refresh(self) -> list[int]:
        return [self.ask(s) for s in self.socks]

    def close(self) -> None:
        """Close them and wait for the server's end: it lets a connection go before it closes the socket,
        so once the end is read the next test finds every place free."""
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except OSError:
                pass
            s.close()
        self.socks = []


def content_length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return int(head.split(b"content-length: ")[1].split(b"\r\n")[0]) if b"content-length: " in head else 0


def test_one_address_cannot_hold_every_connection(small: SecureSystem) -> None:
    held = KeptAlive(small.port)
    try:
        codes = [held.open("127.0.0.2") for _ in range(16)]
        assert codes == [200] * 4 + [429] * 12, codes
        time.sleep(3)
        assert held.refresh() == [200] * 4          # they keep going
        for source in ("127.0.0.3", "127.0.0.4"):
            assert held.open(source) == 200
        r = small.get("/api/session", source="127.0.0.2", headers={"Connection": "close"})
        assert r.status_code == 429 and r.json()["setting"] == "security.max_connections_per_address"
        print(f"\n16 connections from one address: {codes.count(200)} held, {codes.count(429)} answered 429; "
              "other addresses still served")
    finally:
        held.close()


def test_the_last_connections_are_kept_for_localhost_and_admins(small: SecureSystem) -> None:
    held = KeptAlive(small.port)
    try:
        # 14 connections from four addresses fill all but the reserve.
        codes = [held.open(f"127.0.0.{2 + n // 4}") for n in range(14)]
        assert codes == [200] * 14, codes
        # A fifth address gets a reserve connection, closed after one answer: it may log in ...
        for path, who, status in (("/api/session", None, 200), ("/api/status", None, 401),
                                  ("/api/status", EVE, 503), ("/api/status", BOSS, 200)):
            auth = f"authorization: {basic(*who)}\r\n".encode() if who else b""
            answer = raw_request(small.port, f"GET {path} HTTP/1.1\r\nhost: localhost\r\n".encode() + auth + b"\r\n",
                                 source="127.0.0.9")
            assert status_of(answer) == status, (path, who, answer[:300])
            # ... and only an admin may use it for more.
            assert (b"\r\nconnection: close\r\n" in answer.lower()) == (who != BOSS), (path, who)
        # This machine's own browser (localhost) takes a reserve connection as its own.
        with small.client("127.0.0.1") as local:
            assert local.get("/api/session").status_code == 200
            assert local.get("/api/status", headers={"Authorization": basic(*BOSS)}).status_code == 200
    finally:
        held.close()
