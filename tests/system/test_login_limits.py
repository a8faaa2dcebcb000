"""Logins against a real streamer of two workers: the limits hold under bursts from one address
and from many, a good login clears only its own account, a logout ends the session for good,
and with no account the camera never opens to public networks."""
from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.guesses import CHECKED, burst, login_request
from tests.support.procs import wait_until
from tests.support.security_rig import SecureSystem

pytestmark = pytest.mark.slow

PROXY = "127.0.0.3"       # a trusted reverse proxy: its X-Forwarded-For names the client
# Each test guesses at its own account: a guessed-at account stays refused for a minute.
PASSWORDS = {"boss": "correct horse", "owner": "owner pass 1", "keeper": "keeper pass 1", "guest": "guest pass 1",
             "watcher": "watcher pass 1"}


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureSystem]:
    with SecureSystem(tmp_path_factory.mktemp("logins"), cameras=(0,), streamer__workers=2,
                      security__trusted_proxies=f'["{PROXY}/32"]',
                      security__allow='["127.0.0.0/8", "2001:db8::/32"]') as sysm:
        for name, password in PASSWORDS.items():
            sysm.add_user(name, password, "viewer" if name == "guest" else "admin")
        yield sysm.start(headers=basic("watcher", PASSWORDS["watcher"]))


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def checked(codes: dict[int, int]) -> int:
    return sum(codes.get(c, 0) for c in CHECKED)


def test_a_burst_from_one_address_gets_only_the_limit_checked(system: SecureSystem) -> None:
    """100 connections from one address send POST /login at once, one with the right password."""
    requests = [("127.0.0.10", login_request("boss", f"wrong {i}")) for i in range(99)]
    requests.insert(50, ("127.0.0.10", login_request("boss", PASSWORDS["boss"])))
    codes = burst(system.port, requests)
    print(f"\nburst of 100 from one address: {dict(codes)}")
    # At most five wrong ones checked; the right one may be among them (it is no failure).
    assert 1 <= codes[401] <= 5 and codes[200] <= 1 and codes[429] >= 94, codes
    r = system.get("/api/status", source="127.0.0.10", headers=basic("boss", PASSWORDS["boss"]))
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 30


def test_fifty_addresses_get_only_the_limit_checked_against_one_account(system: SecureSystem) -> None:
    sources = [f"127.0.1.{n}" for n in range(1, 51)]
    codes = burst(system.port, [(src, login_request("owner", f"guess {src} {i}")) for src in sources
                                for i in range(2)])
    print(f"\nburst of 2 guesses from each of 50 addresses at one account: {dict(codes)}")
    assert 1 <= checked(codes) <= 5 and codes[429] >= 95, codes
    # The account's logins wait; another account from the same addresses does not.
    with system.client("127.0.0.11") as c:
        r = c.post("/login", json={"user": "owner", "password": PASSWORDS["owner"]})
        assert r.status_code == 429 and r.json()["retry_after_s"] > 30
        assert c.post("/login", json={"user": "keeper", "password": PASSWORDS["keeper"]}).status_code == 200
    assert "login: 5 failed attempts as 'owner' within 60 s" in system.log()


def test_a_good_login_does_not_wipe_the_guesses_of_its_address(system: SecureSystem) -> None:
    """A viewer alternates 4 wrong admin passwords with its own good login."""
    guesses, refused = 0, 0
    with system.client("127.0.0.12") as c:
        for _ in range(5):
            for i in range(4):
                r = c.post("/login", json={"user": "keeper", "password": f"nope nope {i}"})
                if r.status_code == 429:
                    refused += 1
                    continue
                assert r.status_code == 401
                guesses += 1
            c.post("/login", json={"user": "guest", "password": PASSWORDS["guest"]})
    assert guesses == 5 and refused == 15


def test_limits_are_one_count_for_both_workers(system: SecureSystem) -> None:
    """Guesses on new connections reach both workers; they still count once."""
    codes = [system.get("/api/status", source="127.0.0.13", headers={**basic(f"user{i}", "wrong password"),
                                                                       "Connection": "close"}).status_code
             for i in range(20)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    pids = {system.get("/api/status", headers={**basic("watcher", PASSWORDS["watcher"]), "Connection": "close"}
                       ).json()["worker_pid"] for _ in range(30)}
    assert len(pids) == 2, pids


def test_the_snapshot_budget_is_one_for_both_workers(system: SecureSystem) -> None:
    """One client's snapshots on a connection to each worker: one budget, not one each."""
    auth = basic("watcher", PASSWORDS["watcher"])
    clients: dict[int, httpx.Client] = {}
    opened = []
    try:
        for _ in range(40):
            c = system.client("127.0.0.15", headers=auth)
            opened.append(c)
            clients.setdefault(c.get("/api/status").json()["worker_pid"], c)
            if len(clients) == 2:
                break
        assert len(clients) == 2, "every connection went to one worker"
        first, second = clients.values()
        codes = [first.get("/snapshot?view=0&res=480p").status_code for _ in range(10)]
        assert codes[0] == 200 and 429 in codes, codes
        # The other worker has no budget of its own to give: at most a token refilled meanwhile.
        other = [second.get("/snapshot?view=0&res=480p").status_code for _ in range(2)]
        assert other.count(200) <= 1, other
    finally:
        for c in opened:
            c.close()


def test_rotating_ipv6_addresses_count_as_one_client(system: SecureSystem) -> None:
    """Behind the trusted proxy, each guess from another address of one /64, at another name."""
    codes = []
    for i in range(12):
        headers = {"X-Forwarded-For": f"2001:db8:1:2::{i + 1:x}", **basic(f"name{i}", "wrong password")}
        codes.append(system.get("/api/status", source=PROXY, headers=headers).status_code)
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    # Another /64 is another client.
    other = {"X-Forwarded-For": "2001:db8:1:3::1", **basic("name99", "wrong password")}
    assert system.get("/api/status", source=PROXY, headers=other).status_code == 401


def cookie_of(response: httpx.Response) -> str:
    return response.headers["set-cookie"].split(";", 1)[0]


def test_logout_ends_the_session_on_every_worker_and_after_a_restart(system: SecureSystem) -> None:
    with system.client("127.0.0.14") as c:
        saved = cookie_of(c.post("/login", json={"user": "watcher", "password": PASSWORDS["watcher"]}))
        kept = cookie_of(c.post("/login", json={"user": "watcher", "password": PASSWORDS["watcher"]}))

    def status(cookie: str) -> int:
        try:
            return system.get("/api/status", headers={"Cookie": cookie, "Connection": "close"}).status_code
        except httpx.HTTPError:
            return 0     # not serving (while it restarts)

    assert status(saved) == 200 and status(kept) == 200
    r = system.get("/logout", method="POST", headers={"Cookie": saved})
    assert r.status_code == 200 and "sht_session=" in r.headers["set-cookie"]
    assert [status(saved) for _ in range(10)] == [401] * 10       # both workers
    assert status(kept) == 200                                     # another session of the same user
    system.procs.stop("streamer")
    system.procs.start("streamer", "-m", "streamer")
    wait_until(lambda: status(kept) == 200, 40, interval=0.3)
    assert status(saved) == 401
    # A new password ends every session of that user.
    system.add_user("watcher", "another horse", "admin")
    assert status(kept) == 401


@pytest.fixture
def wide_open(tmp_path: Path) -> Iterator[SecureSystem]:
    """No account, and security.allow as for a reverse proxy on the internet."""
    with SecureSystem(tmp_path, cameras=(0,), security__trusted_proxies=f'["{PROXY}/32"]',
                      security__allow='["0.0.0.0/0", "::/0"]') as sysm:
        yield sysm.start()


def test_no_account_and_public_networks_serve_only_this_machine(wide_open: SecureSystem) -> None:
    internet = {"X-Forwarded-For": "203.0.113.9"}
    r = wide_open.get("/api/status", source=PROXY, headers=internet)
    assert r.status_code == 403 and "0.0.0.0/0" in r.json()["error"] and "streamer.users add" in r.json()["how"]
    assert wide_open.get("/stream?view=0&res=480p", source=PROXY, headers=internet).status_code == 403
    assert wide_open.get("/api/status").status_code == 200
    # A proxy on this machine missing from trusted_proxies relays the internet, not this machine.
    assert wide_open.get("/api/status", source="127.0.0.4", headers=internet).status_code == 403
    session = wide_open.get("/api/session").json()
    assert "only this machine may connect" in session["only_this_machine"]
    assert "security.allow lets in public networks (0.0.0.0/0, ::/0)" in wide_open.log()
    # With an account, the internet gets the login; without one again, nothing.
    wide_open.add_user("boss", PASSWORDS["boss"], "admin")
    assert wide_open.get("/api/status", source=PROXY, headers=internet).status_code == 401
    assert wide_open.get("/api/status", source=PROXY, headers={**internet, **basic("boss", PASSWORDS["boss"])}
                         ).status_code == 200
    assert wide_open.users("remove", "boss").returncode == 0
    assert wide_open.get("/api/status", source=PROXY, headers=internet).status_code == 403
