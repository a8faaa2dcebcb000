"""Windowed rate and size meters: fixed memory however long the process runs."""
from __future__ import annotations

import time
from collections import deque


class RateMeter:
    """Events per second over the last ``window`` seconds, plus a mean of a value.

    One thread may add while another reads: readers work on a snapshot of the events
    (copying a deque is one step under the GIL), so no lock is needed.
    """

    def __init__(self, window: float = 2.0, max_events: int = 512) -> None:
        self.window = window
        self._events: deque[tuple[float, float]] = deque(maxlen=max_events)

    def add(self, value: float = 0.0, now: float | None = None) -> None:
        self._events.append((time.monotonic() if now is None else now, value))

    def _recent(self, now: float | None) -> list[tuple[float, float]]:
        now = time.monotonic() if now is None else now
        return [e for e in tuple(self._events) if now - e[0] <= self.window]

    def rate(self, now: float | None = None) -> float:
        recent = self._recent(now)
        if len(recent) < 2:
            return 0.0
        span = recent[-1][0] - recent[0][0]
        return (len(recent) - 1) / span if span > 0 else 0.0

    def mean(self, now: float | None = None) -> float:
        recent = self._recent(now)
        return sum(v for _, v in recent) / len(recent) if recent else 0.0

    def summary(self, *quantiles: float, now: float | None = None) -> tuple[float, float, list[float]]:
        """rate(), mean() and percentile(q) for each of ``quantiles``, from one look at the events."""
        recent = self._recent(now)
        if not recent:
            return 0.0, 0.0, [0.0] * len(quantiles)
        span = recent[-1][0] - recent[0][0]
        rate = (len(recent) - 1) / span if len(recent) >= 2 and span > 0 else 0.0
        values = [v for _, v in recent]
        mean = sum(values) / len(values)
        values.sort()
        picks = [values[min(len(values) - 1, int(q / 100.0 * len(values)))] for q in quantiles]
        return rate, mean, picks

    def percentile(self, q: float, now: float | None = None) -> float:
        values = sorted(v for _, v in self._recent(now))
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(q / 100.0 * len(values)))]
