"""Login limits, rate limits and logouts on their own: shared between processes, bounded,
counted before the password check, and cleared only where a success says."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from common.state.slots import GROUP, HEADER_BYTES, SlotTable
from streamer.auth.access import account_key, public_networks
from streamer.auth.limits import LoginFailures, RateLimit, client_key
from streamer.auth.logouts import MAX_PER_USER, Logouts
from streamer.auth.sessions import Sessions
from tests.support.procs import REPO


def never_gives_way(values: tuple[float, ...]) -> float:
    return math.inf if values[0] > 0 else 0.0


def test_a_table_is_one_for_every_process(tmp_path: Path) -> None:
    path = tmp_path / "table"
    a, b = SlotTable(path, 64, 2, never_gives_way), SlotTable(path, 64, 2, never_gives_way)
    with a.held() as slots:
        assert slots.get("k") is None and slots.put("k", (1.0, 2.0))
    with b.held() as slots:
        assert slots.get("k") == (1.0, 2.0)
    code = ("import math, sys; from pathlib import Path; from common.state.slots import SlotTable\n"
            "t = SlotTable(Path(sys.argv[1]), 64, 2, lambda v: math.inf)\n"
            "with t.held() as s: print(s.get('k')); s.put('k', (3.0, 4.0))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "(1.0, 2.0)", done.stderr
    with a.held() as slots:
        assert slots.get("k") == (3.0, 4.0)
        slots.drop("k")
    with b.held() as slots:
        assert slots.get("k") is None
    assert path.stat().st_size == a.size and (path.stat().st_mode & 0o777) == 0o600


def test_a_table_of_another_shape_is_replaced_not_cut(tmp_path: Path) -> None:
    path = tmp_path / "table"
    old = SlotTable(path, 64, 2, never_gives_way)
    with old.held() as slots:
        slots.put("k", (1.0, 1.0))
    new = SlotTable(path, 128, 3, never_gives_way)
    with new.held() as slots:
        assert slots.get("k") is None and slots.put("k", (2.0, 2.0, 2.0))
    assert path.stat().st_size == new.size
    # The old mapping is still readable (no crash), and the old owner moves to the new file.
    with old.held() as slots:
        assert slots.get("k") is None
    path.write_bytes(b"garbage")
    with new.held() as slots:
        assert slots.get("k") is None
    assert path.stat().st_size == new.size


def test_a_full_group_refuses_rather_than_forget_what_never_gives_way(tmp_path: Path) -> None:
    t = SlotTable(tmp_path / "table", GROUP, 1, never_gives_way)
    with t.held() as slots:
        assert all(slots.put(f"k{i}", (1.0,)) for i in range(GROUP))
        assert not slots.put("new", (1.0,))
        assert all(slots.get(f"k{i}") == (1.0,) for i in range(GROUP))
        slots.put("k3", (0.0,))          # ranked free now
        assert slots.put("new", (1.0,)) and slots.get("k3") is None


def test_logins_are_counted_before_the_check() -> None:
    """A burst reserves at most the limit, whatever the checks still running."""
    f = LoginFailures()
    keys = ("client 127.0.0.2", "user boss")
    got = [f.reserve(keys, now=100.0) for _ in range(100)]
    assert sum(1 for a in got if a.wait == 0) == 5
    assert all(a.wait == pytest.approx(1.0) for a in got if a.wait > 0)
    # The account alone holds too: another client gets no check of it.
    assert f.reserve(("client 127.0.0.3", "user boss"), now=100.0).wait > 0
    assert f.failed(keys, now=100.5) == list(keys)
    assert f.blocked_for("user boss", now=101.0) == pytest.approx(59.5)


def test_a_success_clears_only_its_own_account() -> None:
    """A viewer alternating guesses at the admin with its own good login gets five guesses."""
    f = LoginFailures()
    client, boss, guest = "client 127.0.0.2", "user boss", "user guest"
    guesses, now = 0, 1000.0
    for _ in range(5):
        for _ in range(4):
            now += 1
            attempt = f.reserve((client, boss), now=now)
            if attempt.wait:
                break
            guesses += 1
            f.failed((client, boss), now=now)
        now += 1
        good = f.reserve((client, guest), now=now)
        if good.wait == 0:
            f.release(client, good.at, now=now)
            f.clear(guest)
    assert guesses == 5
    assert f.blocked_for(client, now=now) > 0 and f.blocked_for(boss, now=now) > 0


def test_login_limits_are_shared_and_hold_while_a_flood_of_new_keys_passes(tmp_path: Path) -> None:
    path = tmp_path / "logins"
    workers = [LoginFailures(path, records=256), LoginFailures(path, records=256)]
    keys = ("client 2001:db8:1:2::/64", "user boss")
    for i in range(5):
        w = workers[i % 2]
        assert w.reserve(keys).wait == 0
        w.failed(keys)
    assert all(w.blocked_for("user boss") > 55 for w in workers)
    # Ten times the table's size in one-off clients: the blocked ones stay.
    for n in range(2560):
        k = (f"client 10.{n // 65536}.{n // 256 % 256}.{n % 256}", f"user u{n}")
        if workers[n % 2].reserve(k).wait == 0:
            workers[n % 2].failed(k)
    assert all(w.blocked_for(key) > 50 for w in workers for key in keys)
    assert path.stat().st_size < 20_000    # fixed at creation


def test_clients_count_by_address_and_ipv6_by_64() -> None:
    assert client_key("192.168.1.20") == "192.168.1.20"
    assert client_key("::ffff:10.1.2.3") == "10.1.2.3"
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("fe80::1%eth0") == "fe80::/64"
    assert account_key("boss") == "user boss" and account_key("a b") == account_key("x" * 40)


def test_rate_limits_are_shared_between_processes(tmp_path: Path) -> None:
    path = tmp_path / "snapshots"
    here = RateLimit(0.001, 4.0, path)
    assert [here.take("127.0.0.2") for _ in range(2)] == [0.0, 0.0]
    code = ("import sys; from pathlib import Path; from streamer.auth.limits import RateLimit\n"
            "r = RateLimit(0.001, 4.0, Path(sys.argv[1])); print(sum(r.take('127.0.0.2') == 0 for _ in range(10)))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "2", done.stderr
    assert here.take("127.0.0.2") > 0 and here.take("127.0.0.3") == 0


def test_a_half_written_record_counts_as_none(tmp_path: Path) -> None:
    path = tmp_path / "logins"
    f = LoginFailures(path, records=64)
    for _ in range(5):
        f.reserve(("client a",))
        f.failed(("client a",))
    assert f.blocked_for("client a") > 0
    # Garbage over every record (a writer killed mid-record, or another program): nobody is
    # blocked for ever, and the table is usable at once.
    data = bytearray(path.read_bytes())
    data[HEADER_BYTES:] = os.urandom(len(data) - HEADER_BYTES)
    path.write_bytes(bytes(data))
    assert f.blocked_for("client a") <= f.block
    assert f.reserve(("client b",)).wait == 0


def test_public_networks_are_named() -> None:
    assert public_networks(["127.0.0.0/8", "192.168.1.0/24", "fd00::/8"]) == []
    assert public_networks(["192.168.0.0/16", "0.0.0.0/0", "::/0"]) == ["0.0.0.0/0", "::/0"]
    assert public_networks(["100.64.0.0/10", "8.8.8.8/32"]) == ["100.64.0.0/10", "8.8.8.8/32"]


def test_a_logged_out_session_stays_ended_for_every_worker_and_after_a_restart(tmp_path: Path) -> None:
    s = Sessions(os.urandom(32))
    first, second = s.read(s.issue("boss", "h")), s.read(s.issue("boss", "h"))
    assert first is not None and second is not None
    workers = [Logouts(tmp_path), Logouts(tmp_path)]
    assert not any(w.ended(first) for w in workers)
    workers[0].end(first, ["boss"])
    assert all(w.ended(first) for w in workers) and not any(w.ended(second) for w in workers)
    assert Logouts(tmp_path).ended(first)        # a new process: still ended
    assert (tmp_path / "sessions-ended.json").stat().st_mode & 0o777 == 0o600


def test_logged_out_sessions_are_bounded_and_err_towards_ending(tmp_path: Path) -> None:
    s, logouts = Sessions(os.urandom(32)), Logouts(tmp_path)
    base = s.read(s.issue("boss", "h"))
    assert base is not None
    # Sessions issued one after another expire one after another.
    tokens = [replace(base, id=f"id{i}", expires=base.expires + i) for i in range(MAX_PER_USER + 10)]
    for token in tokens:
        logouts.end(token, ["boss", "guest"])
    assert all(logouts.ended(t) for t in tokens)
    stored = json.loads((tmp_path / "sessions-ended.json").read_text())
    assert len(stored["ended"]["boss"]) == MAX_PER_USER and stored["cut"]["boss"] == base.expires + 9
    # The cut-off ends the older sessions of that user only.
    assert logouts.ended(replace(base, id="older"))
    assert not logouts.ended(replace(base, id="newer", expires=base.expires + 200))
    assert not logouts.ended(replace(base, user="guest", id="older"))
    # A user who no longer exists loses their entries at the next logout.
    logouts.end(replace(base, user="guest"), ["guest"])
    assert "boss" not in (tmp_path / "sessions-ended.json").read_text()
