"""Limits per client and per account: password checks and request rates, one count for every worker.

The counts live in tables of fixed size (:class:`common.state.slots.SlotTable`) that all
workers map, so ``--workers N`` allows no more than one worker, and nothing a client
sends grows them.  A client counts by its address, an IPv6 client by its /64: one host's
privacy addresses, or a block handed to one customer, are one client.

When a table is full, the entry that gives way is the one that matters least: a rate
bucket nearest to full (which only lets someone retry sooner), a login entry with the
fewest recent attempts.  A blocked login entry never gives way; a new key that finds its
neighbourhood full of blocked ones is refused until one expires.
"""
from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass
from pathlib import Path

from common.config import Config
from common.state.slots import SlotTable, Values
from common.state.volatile import volatile_path

TABLE_RECORDS = 4096         # per table; about 256 kB for logins, 128 kB for a rate
CLOCK_SLACK_S = 1.0          # a time this far ahead of now is not one of ours (a reboot, a torn write)
IPV6_CLIENT_PREFIX = 64
LIMIT_FILE = "streamer-limit-"     # + the limit's name, after the ring prefix


def limit_file(cfg: Config, name: str) -> Path:
    """The table of the limit ``name`` every worker of this installation shares."""
    return volatile_path(cfg.run_dir, cfg.ring.prefix, f"{LIMIT_FILE}{name}")


def remove_limit_files(cfg: Config) -> None:
    """The whole streamer has stopped: its limit tables go (a new start counts afresh)."""
    folder = limit_file(cfg, "").parent
    for path in folder.glob(f"{cfg.ring.prefix}{LIMIT_FILE}*"):
        path.unlink(missing_ok=True)


def client_key(address: str) -> str:
    """The unit a client is counted by: its IPv4 address, or its IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)


def _sane(t: float, now: float) -> bool:
    return math.isfinite(t) and 0 < t <= now + CLOCK_SLACK_S


@dataclass(frozen=True)
class Attempt:
    """A password check that may go ahead (``wait`` 0, counted at ``at``), or the seconds to wait."""

    wait: float
    at: float = 0.0


class LoginFailures:
    """Password checks per key (a client, an account): at most ``limit`` within ``window`` s,
    and ``limit`` failures block the key for ``block`` s.

    A check is counted *before* it runs (:meth:`reserve`): parallel requests cannot get more
    checks than the limit while the first ones are still being checked.  A right password
    takes its count back from the client (:meth:`release`) and clears its account
    (:meth:`clear`); a wrong one leaves the count in place (:meth:`failed`).
    An entry's values: when its block ends, then the times of up to ``limit`` checks (0: none).
    """

    def __init__(self, path: Path | None = None, limit: int = 5, window: float = 60.0, block: float = 60.0,
                 records: int = TABLE_RECORDS) -> None:
        self.limit, self.window, self.block = limit, window, block
        self.table = SlotTable(path, records, 1 + limit, self._rank)

    def _state(self, values: Values | None, now: float) -> tuple[float, list[float]]:
        """(block end, recent check times) of an entry, without what has expired or is not sane."""
        if values is None:
            return 0.0, []
        until = values[0] if _sane(values[0] - self.block, now) and values[0] > now else 0.0
        times = [t for t in values[1:] if _sane(t, now) and now - t < self.window]
        return until, times

    def _rank(self, values: Values) -> float:
        now = time.monotonic()
        until, times = self._state(values, now)
        if until:
            return math.inf
        # More recent checks rank higher; among equals, the one checked last.
        return len(times) + (max(times) / (now + 1) if times else 0.0)

    def _wait(self, until: float, times: list[float], now: float) -> float:
        if until:
            return until - now
        # Full of checks still running (or of a worker killed mid-check): try again shortly.
        return 1.0 if len(times) >= self.limit else 0.0

    def blocked_for(self, key: str, now: float | None = None) -> float:
        """Seconds this key must still wait (0 when it may try)."""
        now = time.monotonic() if now is None else now
        with self.table.held() as slots:
            return self._wait(*self._state(slots.get(key), now), now)

    def reserve(self, keys: tuple[str, ...], now: float | None = None) -> Attempt:
        """Count a check against every key at once, unless one of them must wait."""
        now = time.monotonic() if now is None else now
        with self.table.held() as slots:
            states = [self._state(slots.get(key), now) for key in keys]
            wait = max(self._wait(*state, now) for state in states)
            if wait > 0:
                return Attempt(wait)
            for key, (_, times) in zip(keys, states):
                if not slots.put(key, self._values(0.0, [*times, now])):
                    return Attempt(self.window)   # no room beside blocked entries: fail closed
            return Attempt(0.0, now)

    def failed(self, keys: tuple[str, ...], now: float | None = None) -> list[str]:
        """A reserved check failed: the keys it makes blocked (their counts start again)."""
        now = time.monotonic() if now is None else now
        blocked = []
        with self.table.held() as slots:
            for key in keys:
                until, times = self._state(slots.get(key), now)
                if not until and len(times) >= self.limit:
                    slots.put(key, self._values(now + self.block, []))
                    blocked.append(key)
        return blocked

    def release(self, key: str, at: float, now: float | None = None) -> None:
        """A reserved check succeeded: it no longer counts against ``key``."""
        now = time.monotonic() if now is None else now
        with self.table.held() as slots:
            until, times = self._state(slots.get(key), now)
            if at in times:
                times.remove(at)
            if until or times:
                slots.put(key, self._values(until, times))
            else:
                slots.drop(key)

    def clear(self, key: str) -> None:
        with self.table.held() as slots:
            slots.drop(key)

    def _values(self, until: float, times: list[float]) -> Values:
        recent = sorted(times)[-self.limit:]
        return (until, *recent, *[0.0] * (self.limit - len(recent)))


class RateLimit:
    """A token bucket per key: ``rate`` requests a second, bursts of ``burst``.
    An entry's values: its tokens and when they were counted."""

    def __init__(self, rate: float, burst: float, path: Path | None = None, records: int = TABLE_RECORDS) -> None:
        self.rate, self.burst = rate, burst
        self.table = SlotTable(path, records, 2, self._rank)

    def _tokens(self, values: Values | None, now: float) -> float:
        if values is None or not _sane(values[1], now) or not 0 <= values[0] <= self.burst:
            return self.burst
        return min(self.burst, values[0] + max(0.0, now - values[1]) * self.rate)

    def _rank(self, values: Values) -> float:
        # A full bucket is as good as none; an emptier one is kept longer.
        return self.burst - self._tokens(values, time.monotonic())

    def take(self, key: str, now: float | None = None) -> float:
        """0 when the request may go ahead (a token is used), else seconds until one is free."""
        now = time.monotonic() if now is None else now
        with self.table.held() as slots:
            tokens = self._tokens(slots.get(key), now)
            if tokens < 1.0:
                return (1.0 - tokens) / self.rate
            slots.put(key, (tokens - 1.0, now))
            return 0.0
