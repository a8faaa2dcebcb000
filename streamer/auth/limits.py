"""Per-address limits: failed logins and request rates, in tables of bounded size.

A table keeps at most ``max_keys`` addresses and forgets the least recently seen one
first, so no client can grow it; forgetting only ever errs towards letting someone retry.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

MAX_KEYS = 1024
V = TypeVar("V")


class _Bounded(OrderedDict[str, V], Generic[V]):
    """An LRU map: touching a key moves it to the end, the oldest falls off past the cap."""

    def __init__(self, max_keys: int) -> None:
        super().__init__()
        self.max_keys = max_keys

    def touch(self, key: str, default: V) -> V:
        if key in self:
            self.move_to_end(key)
            return self[key]
        self[key] = default
        while len(self) > self.max_keys:
            self.popitem(last=False)
        return default


@dataclass
class _Failures:
    times: list[float]
    blocked_until: float = 0.0


class LoginFailures:
    """``limit`` failures from one address within ``window`` s block it for ``block`` s."""

    def __init__(self, limit: int = 5, window: float = 60.0, block: float = 60.0, max_keys: int = MAX_KEYS) -> None:
        self.limit, self.window, self.block = limit, window, block
        self._table: _Bounded[_Failures] = _Bounded(max_keys)

    def blocked_for(self, address: str, now: float | None = None) -> float:
        """Seconds this address must still wait (0 when it may try)."""
        now = time.monotonic() if now is None else now
        entry = self._table.get(address)
        return max(0.0, entry.blocked_until - now) if entry is not None else 0.0

    def failed(self, address: str, now: float | None = None) -> bool:
        """Count a failure; True when it makes the address blocked."""
        now = time.monotonic() if now is None else now
        entry = self._table.touch(address, _Failures([]))
        entry.times = [*[t for t in entry.times if now - t < self.window][-(self.limit - 1):], now]
        if len(entry.times) >= self.limit:
            entry.blocked_until = now + self.block
            entry.times = []
            return True
        return False

    def succeeded(self, address: str) -> None:
        entry = self._table.get(address)
        if entry is not None and entry.blocked_until <= time.monotonic():
            del self._table[address]


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    """A token bucket per key: ``rate`` requests a second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: float, max_keys: int = MAX_KEYS) -> None:
        self.rate, self.burst = rate, burst
        self._table: _Bounded[_Bucket] = _Bounded(max_keys)

    def take(self, key: str, now: float | None = None) -> float:
        """0 when the request may go ahead (a token is used), else seconds until one is free."""
        now = time.monotonic() if now is None else now
        bucket = self._table.touch(key, _Bucket(self.burst, now))
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate
