"""Password guessing against a streamer with accounts: how many guesses get checked.

Guessers send ``POST /login`` with a wrong password, each guess on a new connection, and go
again shortly after each answer, all at the same time:

* one address, 20 connections at once, each guess at another account name;
* 50 addresses (127.0.1.1 to 127.0.1.50), a connection each, at another account;

first against a streamer of one worker, then against one of two workers.  A guess counts as
checked when its answer is 200 or 401 (the password was compared); the figure is the most
checked within any 60 s, the window of the login limit (the quick run lasts less than that,
so its figure is the checks of the whole run).

    python -m tests.bench.logins_bench [--quick]
"""
from __future__ import annotations

import base64
import tempfile
import threading
from pathlib import Path

from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.support.guesses import Siege
from tests.support.security_rig import SecureSystem

SECTION = "logins"
LIMIT_WINDOW_S = 60.0
TARGET = 5          # checks per address and per account a minute
PASSWORD = "bench pass 1"
ONE_ADDRESS = ["127.0.2.1"]
FIFTY_ADDRESSES = [f"127.0.1.{n}" for n in range(1, 51)]


def siege(workers: int, seconds: float) -> tuple[Siege, Siege]:
    """Both guessers at once against a fresh streamer of ``workers`` workers."""
    with tempfile.TemporaryDirectory(prefix="sht-bench-") as tmp, \
            SecureSystem(Path(tmp), cameras=(0,), streamer__workers=workers,
                         streamer__host="127.0.0.1") as system:
        for name in ("name1", "crowd", "watcher"):
            system.add_user(name, PASSWORD, "admin")
        system.start(headers={"Authorization": "Basic " + base64.b64encode(f"watcher:{PASSWORD}".encode()).decode()})
        sieges = (Siege(system.port, ONE_ADDRESS, "name{i}", per_source=20, pause=0.5),
                  Siege(system.port, FIFTY_ADDRESSES, "crowd", pause=1.0))
        threads = [threading.Thread(target=s.run, args=(seconds,)) for s in sieges]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sieges


def figure(name: str, s: Siege, seconds: float) -> Figure:
    checked = float(s.most_checked_within(LIMIT_WINDOW_S))
    attempts = sum(s.codes.values())
    note = (f"{attempts} guesses sent in {seconds:g} s ({attempts * 60 / seconds:.0f} a minute); "
            f"answers {dict(sorted(s.codes.items()))}")
    return summarise(SECTION, name, [checked], "checked/min", target=f"<= {TARGET}",
                     check=lambda v: v <= TARGET, note=note)


def run(quick: bool) -> list[Figure]:
    seconds = 20.0 if quick else 75.0
    figs = []
    for workers in (1, 2):
        lone, crowd = siege(workers, seconds)
        label = "1 worker" if workers == 1 else f"{workers} workers"
        figs.append(figure(f"one address, 20 connections, any account ({label})", lone, seconds))
        figs.append(figure(f"50 addresses, one account ({label})", crowd, seconds))
    return figs


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
