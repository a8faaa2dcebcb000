"""Access-control parts on their own: limits, sessions, passwords, pauses, addresses, config,
and the connection cap's answer and file limit."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.config import ConfigError, load
from common.state.controls import Controls
from streamer.auth.access import Guard, split_host
from streamer.auth.accounts import UserError, Users, hash_password, verify_password
from streamer.auth.limits import LoginFailures, RateLimit
from streamer.auth.sessions import Sessions, fingerprint, load_secret
from streamer.server import transport
from tests.support.procs import REPO


def config(tmp_path: Path, **env: str):
    base = {"SHT_CONFIG": "/dev/null", "SHT__PATHS__RUN_DIR": str(tmp_path / "run")}
    return load({**base, **{f"SHT__{k.upper()}": v for k, v in env.items()}})


def test_five_failures_in_a_minute_block_for_a_minute() -> None:
    f = LoginFailures()
    for i in range(4):
        assert f.reserve(("a",), now=100.0 + i).wait == 0
        assert f.failed(("a",), now=100.0 + i) == []
    assert f.blocked_for("a", now=104.0) == 0
    assert f.reserve(("a",), now=104.5).wait == 0
    assert f.failed(("a",), now=104.5) == ["a"]
    assert f.blocked_for("a", now=105.0) == pytest.approx(59.5)
    assert f.reserve(("a",), now=105.0).wait == pytest.approx(59.5)
    assert f.blocked_for("b", now=105.0) == 0
    assert f.blocked_for("a", now=164.6) == 0
    # Failures spread over more than a minute never block.
    g = LoginFailures()
    for i in range(10):
        assert g.reserve(("a",), now=100.0 + 20 * i).wait == 0
        assert g.failed(("a",), now=100.0 + 20 * i) == []


def test_rate_limit_refills() -> None:
    r = RateLimit(rate=2.0, burst=2.0)
    assert r.take("a", now=100.0) == 0 and r.take("a", now=100.0) == 0
    assert r.take("a", now=100.0) == pytest.approx(0.5)
    assert r.take("a", now=100.5) == 0


def test_passwords_are_salted_scrypt(tmp_path: Path) -> None:
    h1, h2 = hash_password("correct horse"), hash_password("correct horse")
    assert h1 != h2 and h1.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", h1) and not verify_password("correct hors", h1)
    assert not verify_password("x", "garbage") and not verify_password("x", "scrypt$1$2$3$!!$!!")
    with pytest.raises(UserError):
        hash_password("short")
    users = Users(tmp_path / "run")
    assert users.add("boss", "correct horse", "admin")
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o700
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    assert users.check("boss", "correct horse").role == "admin"
    assert users.check("boss", "wrong") is None and users.check("nobody", "correct horse") is None
    with pytest.raises(UserError):
        users.add("no/slash", "correct horse", "admin")
    # A broken accounts file locks the door (never opens it, never crashes).
    for broken in ("{not json", "\xff\xfe", "[]", '{"users": 3}'):
        users.path.write_text(broken)
        os.utime(users.path, ns=(time.time_ns(), time.time_ns() + len(broken)))
        assert users.all() == {} and users.any() and users.broken, broken
        assert users.check("boss", "correct horse") is None
    # The command line rewrites a broken file.
    assert users.add("boss", "correct horse", "admin") and users.check("boss", "correct horse") is not None


def test_session_tokens(tmp_path: Path) -> None:
    secret = load_secret(tmp_path / "run")
    assert len(secret) == 32 and load_secret(tmp_path / "run") == secret
    assert stat.S_IMODE((tmp_path / "run" / "session.key").stat().st_mode) == 0o600
    s = Sessions(secret)
    token = s.issue("boss", "hash-1")
    got = s.read(token)
    assert got is not None and (got.user, got.fingerprint) == ("boss", fingerprint("hash-1"))
    assert len(got.id) == 12 and got.id != s.read(s.issue("boss", "hash-1")).id
    payload, sig = token.split(".")
    assert s.read(payload + "." + sig[:-2] + "AA") is None
    assert Sessions(os.urandom(32)).read(token) is None
    assert s.read("x" * 600) is None and s.read("..") is None and s.read("") is None
    assert Sessions(secret, lifetime_s=-10).read(Sessions(secret, lifetime_s=-10).issue("boss", "h")) is None


def test_pause_keeps_who_and_ends_by_itself(tmp_path: Path) -> None:
    c = Controls(tmp_path / "run")
    now = time.time()
    c.update(recording={0: False}, pause={"by": "boss", "from": "192.168.1.20", "at": now, "until": now + 0.3})
    got = c.get()
    assert got["recording"]["0"] is False and got["paused"]["0"]["by"] == "boss"
    assert not c.recording_enabled(0)
    time.sleep(0.35)
    assert c.recording_enabled(0) and c.get()["paused"] == {}
    c.update(recording={1: False}, pause={"by": "x", "from": "y", "at": now, "until": None})
    assert not c.recording_enabled(1)
    c.update(recording={1: True})
    assert c.get()["paused"] == {} and c.recording_enabled(1)
    for name in ("controls.json", "controls.json.lock"):
        assert stat.S_IMODE((tmp_path / "run" / name).stat().st_mode) == 0o600
    # A stored pause of an unknown camera or of the wrong type is ignored.
    (tmp_path / "run" / "controls.json").write_text(json.dumps(
        {"recording": {"0": False}, "paused": {"7": {"by": "x"}, "0": "nonsense"}}))
    assert c.get()["paused"] == {} and not c.recording_enabled(0)


def test_host_names_and_forwarded_addresses(tmp_path: Path) -> None:
    assert split_host("Camera.Local.:8001") == "camera.local"
    assert split_host("[::1]:8001") == "::1" and split_host("[fe80::1]") == "fe80::1"
    g = Guard(config(tmp_path, security__hosts='["cam.example.org", "*.home.example"]',
                     security__trusted_proxies='["127.0.0.1/32"]'))
    for ok in ("localhost", "127.0.0.1:8001", "[::1]:1", "cam.example.org", "a.home.example"):
        assert g.host_ok(ok), ok
    for bad in ("evil.example", "cam.example.org.evil", "home.example", "127.0.0.1.evil.example", "x.local"):
        assert not g.host_ok(bad), bad
    scope = {"client": ("127.0.0.1", 5000)}
    assert g.address(scope, {b"x-forwarded-for": b"6.6.6.6, 192.168.1.20"}) == "192.168.1.20"
    assert g.address(scope, {b"x-forwarded-for": b"192.168.1.20, 127.0.0.1"}) == "192.168.1.20"
    assert g.address({"client": ("127.0.0.2", 1)}, {b"x-forwarded-for": b"192.168.1.20"}) == "127.0.0.2"
    assert g.allowed("192.168.1.20") and g.allowed("::ffff:10.1.2.3") and g.allowed("fe80::1")
    assert not g.allowed("8.8.8.8") and not g.allowed("2001:db8::1") and not g.allowed("not an address")


def test_security_settings_are_checked(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert "192.168.0.0/16" in cfg.security.allow and cfg.security.max_streams_per_address == 4
    assert cfg.recorder.pause_max_minutes == 60
    for key, value, message in (("security__allow", '["10.0.0.0/33"]', "security.allow"),
                                ("security__hosts", '["a b"]', "security.hosts"),
                                ("security__trusted_proxies", "nonsense", "security.trusted_proxies"),
                                ("security__max_streams_per_address", "0", "security.max_streams_per_address"),
                                ("recorder__pause_max_minutes", "-1", "recorder.pause_max_minutes")):
        with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
            config(tmp_path, **{key: value})


def test_busy_answer_is_well_formed() -> None:
    assert transport.BUSY_RESPONSE.startswith(b"HTTP/1.1 503 ")
    head, _, body = transport.BUSY_RESPONSE.partition(b"\r\n\r\n")
    assert int(head.split(b"content-length: ")[1].split(b"\r\n")[0]) == len(body)
    assert json.loads(body)["error"].startswith("server busy")


def test_file_limit_is_raised_to_fit_the_connection_cap() -> None:
    code = ("import resource as r; s, h = r.getrlimit(r.RLIMIT_NOFILE); r.setrlimit(r.RLIMIT_NOFILE, (256, h)); "
            "from streamer.server import transport; cap = transport.admit_connections(2000); "
            "print(cap, r.getrlimit(r.RLIMIT_NOFILE)[0], h)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    cap, soft, hard = map(int, done.stdout.split())
    if hard >= 2000 + transport.FD_RESERVE:
        assert cap == 2000 and soft >= 2000 + transport.FD_RESERVE
    else:   # a low hard limit: the cap shrinks to what the descriptors allow
        assert cap == max(16, hard - transport.FD_RESERVE) and soft == hard
