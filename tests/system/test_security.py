"""Access control against a real streamer: networks, Host, Origin, accounts, roles, pauses."""
from __future__ import annotations

import base64
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import wait_until
from tests.support.security_rig import SecureSystem, openapi

EVIL = "http://evil.example"
PATH_VALUES = {"camera_id": "0", "enabled": "false", "resolution": "640x480"}


@pytest.fixture(scope="module")
def open_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureSystem]:
    """No accounts; a reverse proxy on 127.0.0.3 (its X-Forwarded-For names the client)."""
    with SecureSystem(tmp_path_factory.mktemp("open"), recorder__pause_max_minutes=0.05,
                      security__trusted_proxies='["127.0.0.3/32"]') as sysm:
        yield sysm.start(recorders=(0,))


def controls(sysm: SecureSystem) -> dict:
    ctrl = sysm.get("/api/status").json()["controls"]
    return {k: ctrl[k] for k in ("view", "resolution", "recording")}


def state_changing_routes(env: dict[str, str]) -> list[str]:
    doc = openapi(env)
    routes = []
    for path, methods in doc["paths"].items():
        for method in methods:
            if method.upper() not in ("GET", "HEAD", "OPTIONS"):
                for name, value in PATH_VALUES.items():
                    path = path.replace("{" + name + "}", value)
                assert "{" not in path, path
                routes.append(f"{method.upper()} {path}")
    return routes


def test_allowlist_refuses_other_networks(tmp_path: Path) -> None:
    sysm = SecureSystem(tmp_path, cameras=(0,), security__allow='["127.0.0.1/32"]')
    try:
        sysm.start()
        for path in ("/api/status", "/stream?view=0&res=480p", "/", "/snapshot?view=0"):
            r = sysm.get(path, source="127.0.0.2")
            assert r.status_code == 403, (path, r.status_code)
            assert r.json()["setting"] == "security.allow"
        r = sysm.get("/api/recording/stop/0", source="127.0.0.2", method="POST")
        assert r.status_code == 403
        assert sysm.get("/api/status").status_code == 200
        assert sysm.get("/api/status").json()["controls"]["recording"]["0"] is True
    finally:
        sysm.close()


def test_foreign_origin_is_refused_on_every_state_changing_route(open_system: SecureSystem) -> None:
    routes = state_changing_routes(open_system.env)
    assert {"POST /api/recording/stop/0", "POST /switch/0", "POST /api/dual_mode/false",
            "POST /api/resolution/640x480", "POST /login", "POST /logout"} <= set(routes)
    before = controls(open_system)
    for route in routes:
        method, path = route.split(" ", 1)
        for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Referer": EVIL + "/page.html"},
                        {"Origin": f"http://127.0.0.1:{open_system.port + 1}"}):
            r = open_system.get(path, method=method, headers=headers)
            assert r.status_code == 403, (route, headers, r.status_code)
            assert "cross-site" in r.json()["error"]
    assert controls(open_system) == before
    # The same request from the server's own page works.
    r = open_system.get("/api/resolution/1280x720", method="POST", headers={"Origin": open_system.origin})
    assert r.status_code == 200 and controls(open_system)["resolution"] == "720p"
    r = open_system.get("/api/resolution/640x480", method="POST",
                        headers={"Referer": open_system.origin + "/"})
    assert r.status_code == 200 and controls(open_system)["resolution"] == "480p"


def test_host_header(open_system: SecureSystem) -> None:
    assert open_system.get("/api/status", headers={"Host": "evil.example"}).status_code == 421
    assert open_system.get("/api/status", headers={"Host": f"evil.example:{open_system.port}"}).status_code == 421
    for host in (f"localhost:{open_system.port}", f"127.0.0.1:{open_system.port}", f"{socket.gethostname()}.local",
                 f"[::1]:{open_system.port}"):
        assert open_system.get("/api/status", headers={"Host": host}).status_code == 200, host


def test_no_account_control_only_from_this_machine(open_system: SecureSystem) -> None:
    session = open_system.get("/api/session").json()
    assert session["accounts"] is False and "streamer.users add" in session["add_admin"]
    # A client on the LAN, through the trusted proxy: may watch, may not pause.
    lan = {"X-Forwarded-For": "192.168.1.20"}
    assert open_system.get("/api/status", source="127.0.0.3", headers=lan).status_code == 200
    r = open_system.get("/api/recording/stop/0", source="127.0.0.3", method="POST", headers=lan)
    assert r.status_code == 403 and "streamer.users add" in r.json()["error"]
    assert controls(open_system)["recording"]["0"] is True
    # A forwarded-for header from anyone but the trusted proxy is ignored.
    r = open_system.get("/api/session", source="127.0.0.2", headers=lan)
    assert r.json()["address"] == "127.0.0.2"
    # Outside security.allow through the proxy: refused.
    assert open_system.get("/api/status", source="127.0.0.3",
                           headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403


def test_pause_is_attributed_and_ends_by_itself(open_system: SecureSystem) -> None:
    """recorder.pause_max_minutes = 0.05: the pause ends after 3 s, and the recorder resumes."""
    def recorder_state() -> str | None:
        doc = open_system.get("/api/status").json()["recorders"]["0"]
        return doc and doc.get("state")
    wait_until(lambda: recorder_state() == "recording", 30, interval=0.2)
    t0 = time.time()
    r = open_system.get("/api/recording/stop/0", method="POST")
    assert r.status_code == 200
    status = open_system.get("/api/status").json()
    pause = status["controls"]["paused"]["0"]
    assert status["controls"]["recording"]["0"] is False
    assert pause["by"] == "anonymous" and pause["from"] == "127.0.0.1"
    assert abs(pause["at"] - t0) < 2 and abs(pause["until"] - (pause["at"] + 3.0)) < 0.01
    last = status["last_control"]
    assert last["action"] == "recording paused on camera 0" and last["by"] == "anonymous" \
        and last["from"] == "127.0.0.1" and abs(last["at"] - t0) < 2
    wait_until(lambda: recorder_state() == "paused", 5, interval=0.1)
    assert "camera 0: recording paused by anonymous from 127.0.0.1 until " in open_system.procs.log("recorder0")
    assert "control: recording paused on camera 0 by anonymous from 127.0.0.1" in open_system.log()
    wait_until(lambda: open_system.get("/api/status").json()["controls"]["recording"]["0"] is True, 6,
               interval=0.1)
    assert time.time() - pause["at"] >= 2.9
    assert "0" not in open_system.get("/api/status").json()["controls"]["paused"]
    wait_until(lambda: recorder_state() == "recording", 5, interval=0.1)


def test_files_are_private(open_system: SecureSystem) -> None:
    open_system.get("/api/resolution/640x480", method="POST")
    run = open_system.run_dir
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    for name in ("controls.json", "controls.json.lock", "session.key"):
        assert stat.S_IMODE((run / name).stat().st_mode) == 0o600, name
    for status_file in run.glob("status-*.json"):
        assert stat.S_IMODE(status_file.stat().st_mode) == 0o600, status_file
    prefix = open_system.env["SHT__RING__PREFIX"]
    shm = list(Path("/dev/shm").glob(prefix + "*"))
    assert len(shm) >= 3   # two rings and the viewer table
    for path in shm:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_accounts_roles_and_failed_logins(tmp_path: Path) -> None:
    sysm = SecureSystem(tmp_path, cameras=(0,))
    try:
        sysm.add_user("boss", "correct horse", "admin")
        sysm.add_user("guest", "guest pass 1", "viewer")
        assert stat.S_IMODE((sysm.run_dir / "users.json").stat().st_mode) == 0o600
        listed = sysm.users("list")
        assert listed.stdout.split() == ["boss", "admin", "guest", "viewer"]
        sysm.start(headers=basic("guest", "guest pass 1"))
        # Nothing without a login but the login page and the page's files.
        r = sysm.get("/api/status")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        assert sysm.get("/api/status", headers={"X-SHT-Page": "1"}).headers.get("www-authenticate") is None
        assert sysm.get("/stream?view=0&res=480p").status_code == 401
        assert sysm.get("/recordings/cam0/260101/cam0_20260101_000000.mp4").status_code == 401
        r = sysm.get("/")
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert sysm.get("/login").status_code == 200
        assert sysm.get("/static/style.css").status_code == 200
        # Basic auth with curl, as a script would.
        url = f"{sysm.origin}/api/status"
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "guest:guest pass 1", url],
                             capture_output=True, text=True, timeout=20)
        assert out.stdout == "200"
        out = subprocess.run(["curl", "-s", "-u", "guest:guest pass 1", "-X", "POST",
                              f"{sysm.origin}/api/recording/stop/0"], capture_output=True, text=True, timeout=20)
        assert '"role":"viewer"' in out.stdout.replace(" ", "")
        # The viewer may watch, not control.
        assert sysm.get("/snapshot?view=0", headers=basic("guest", "guest pass 1")).status_code == 200
        for path in ("/api/recording/stop/0", "/switch/0", "/api/resolution/1280x720", "/api/dual_mode/false"):
            r = sysm.get(path, method="POST", headers=basic("guest", "guest pass 1"))
            assert r.status_code == 403, path
        # The admin may.
        r = sysm.get("/api/recording/stop/0", method="POST", headers=basic("boss", "correct horse"))
        assert r.status_code == 200
        pause = sysm.get("/api/status", headers=basic("boss", "correct horse")).json()["controls"]["paused"]["0"]
        assert pause["by"] == "boss" and pause["from"] == "127.0.0.1" and pause["until"] > time.time() + 3000
        assert sysm.get("/api/recording/start/0", method="POST", headers=basic("boss", "correct horse")
                        ).status_code == 200
        # Session cookie from the login form.
        with sysm.client() as c:
            assert c.post("/login", json={"user": "boss", "password": "nope nope"}).status_code == 401
            r = c.post("/login", json={"user": "boss", "password": "correct horse"})
            assert r.status_code == 200 and r.json()["role"] == "admin"
            cookie = r.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie
            assert c.get("/api/status").status_code == 200
            assert c.get("/api/session").json()["user"] == "boss"
            assert c.post("/logout").status_code == 200
            assert c.get("/api/status").status_code == 401
        # Five wrong passwords from one address in a minute: 429, even with the right one.
        for _ in range(5):
            assert sysm.get("/api/status", source="127.0.0.2", headers=basic("boss", "wrong")).status_code == 401
        r = sysm.get("/api/status", source="127.0.0.2", headers=basic("boss", "correct horse"))
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 50
        with sysm.client("127.0.0.2") as c:
            assert c.post("/login", json={"user": "boss", "password": "correct horse"}).status_code == 429
        assert "login: 5 failed attempts from 127.0.0.2" in sysm.log()
        # Another address may still use a script's Basic credentials checked before and in use,
        # but the guessed-at account's logins wait a minute wherever they come from.
        assert sysm.get("/api/status", source="127.0.0.4", headers=basic("boss", "correct horse")).status_code == 200
        with sysm.client("127.0.0.4") as c:
            assert c.post("/login", json={"user": "boss", "password": "correct horse"}).status_code == 429
            assert c.post("/login", json={"user": "guest", "password": "guest pass 1"}).status_code == 200
        assert "login: 5 failed attempts as 'boss' within 60 s" in sysm.log()
        # A removed account's session and Basic credentials stop working at once.
        with sysm.client() as c:
            c.post("/login", json={"user": "guest", "password": "guest pass 1"})
            assert c.get("/api/status").status_code == 200
            assert sysm.users("remove", "guest").returncode == 0
            assert c.get("/api/status").status_code == 401
        assert sysm.get("/api/status", headers=basic("guest", "guest pass 1")).status_code == 401
        # Only the last remaining account: removing it opens viewing again.
        assert sysm.users("remove", "boss").returncode == 0
        assert sysm.get("/api/status").status_code == 200
    finally:
        sysm.close()


def test_users_command_line(tmp_path: Path) -> None:
    sysm = SecureSystem(tmp_path, cameras=(0,))
    assert sysm.users("add", "x", "--role", "root", "--password-stdin", password="12345678").returncode == 2
    done = sysm.users("add", "bad name", "--password-stdin", password="12345678")
    assert done.returncode == 2 and "user name" in done.stderr
    done = sysm.users("add", "short", "--password-stdin", password="1234")
    assert done.returncode == 2 and "password" in done.stderr
    assert sysm.users("remove", "nobody").returncode == 1
    assert sysm.users("add", "a", "--password-stdin", password="12345678").returncode == 0
    assert sysm.users("list").stdout == "a\tviewer\n"
    assert sysm.users("add", "a", "--role", "admin", "--password-stdin", password="abcdefgh").returncode == 0
    assert sysm.users("list").stdout == "a\tadmin\n"
    text = (sysm.run_dir / "users.json").read_text()
    assert "abcdefgh" not in text and "scrypt$" in text


def test_bad_security_setting_names_the_key(tmp_path: Path) -> None:
    sysm = SecureSystem(tmp_path, cameras=(0,), security__allow='["10.1.2.3/40"]')
    proc = sysm.procs.start("streamer", "-m", "streamer")
    assert proc.wait(30) == 2
    lines = sysm.procs.log("streamer").strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config error: security.allow")
    sysm.close()


def test_a_login_holds_across_workers(tmp_path: Path) -> None:
    """Two workers make the session secret at once on first start; a cookie either signs works in both."""
    sysm = SecureSystem(tmp_path, cameras=(0,), streamer__workers=2)
    try:
        sysm.add_user("boss", "correct horse", "admin")
        sysm.start(headers=basic("boss", "correct horse"))
        pids = set()
        with sysm.client() as c:
            assert c.post("/login", json={"user": "boss", "password": "correct horse"}).status_code == 200
            # The workers share one socket: which one accepts is up to the kernel, so ask until
            # both have answered (a worker still starting takes none for a while).
            deadline = time.monotonic() + 30.0
            while len(pids) < 2 and time.monotonic() < deadline:
                r = c.get("/api/status", headers={"Connection": "close"})
                assert r.status_code == 200
                pids.add(r.json()["worker_pid"])
        assert len(pids) == 2, pids
    finally:
        sysm.close()
