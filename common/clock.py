"""Time sources and frame pacing.

CLOCK_MONOTONIC (``time.monotonic_ns``) times frames and ages: it never jumps.  Wall time
(``time.time_ns``) only names things for people: overlays and file names.
"""
from __future__ import annotations

import time
from datetime import datetime


class Clock:
    """Wall and monotonic time in one place, so tests can inject another clock."""

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def wall_ns(self) -> int:
        return time.time_ns()

    def local(self, wall_ns: int) -> datetime:
        return datetime.fromtimestamp(wall_ns / 1e9)


def stamp_text(wall_ns: int) -> str:
    """Overlay date-time text in local time, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall_ns // 1_000_000_000))


class Pacer:
    """Ticks at a fixed rate on absolute deadlines: no drift, however long each frame took.

    When the caller falls behind by a whole period, the missed ticks are skipped (and
    counted) instead of being run back to back.
    """

    def __init__(self, fps: float) -> None:
        self.period_ns = int(round(1e9 / fps))
        self._start_ns = time.monotonic_ns()
        self._tick = 0
        self.skipped = 0

    def wait(self) -> int:
        """Sleep until the next tick; returns its deadline (monotonic ns)."""
        self._tick += 1
        deadline = self._start_ns + self._tick * self.period_ns
        now = time.monotonic_ns()
        if now - deadline >= self.period_ns:
            behind = (now - deadline) // self.period_ns
            self.skipped += behind
            self._tick += behind
            deadline += behind * self.period_ns
        delay = deadline - now
        if delay > 0:
            time.sleep(delay / 1e9)
        return deadline
