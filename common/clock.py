"""Time sources and frame pacing.

CLOCK_MONOTONIC (``time.monotonic_ns``) times frames and ages: it never jumps.  Wall time
(``time.time_ns``) only names things for people: overlays and file names.  A deadline that
other processes judge (a pause's end) is kept on CLOCK_BOOTTIME with the boot's identity:
the same clock in every process of one boot, never stepped, and counting a suspend.
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import datetime
from fractions import Fraction


class Clock:
    """Wall and monotonic time in one place, so tests can inject another clock."""

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def wall_ns(self) -> int:
        return time.time_ns()

    def local(self, wall_ns: int) -> datetime:
        return datetime.fromtimestamp(wall_ns / 1e9)


BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def since_boot() -> float:
    """Seconds since this boot (CLOCK_BOOTTIME where there is one): steps of the wall clock never move it."""
    return time.clock_gettime(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))


@functools.cache
def boot_id() -> str:
    """This boot's identity: a reading of :func:`since_boot` means something only in the boot that
    took it.  "" when the system does not tell (no reading is then trusted across processes)."""
    try:
        with open(BOOT_ID_PATH) as fh:
            return fh.read().strip()
    except OSError:
        return ""


# The one date-time form of the system, in both languages: on the picture, the page and in
# messages, in this machine's time zone (the cameras'), 24-hour, to the second.
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def local_text(epoch_s: float) -> str:
    """``2026-12-04 13:47:05``: the instant in this machine's time zone."""
    return time.strftime(DATETIME_FORMAT, time.localtime(epoch_s))


def utc_offset_s(epoch_s: float | None = None) -> int:
    """This machine's offset from UTC at ``epoch_s`` (now by default), in seconds: the page
    shows times in the cameras' zone, not the browser's."""
    return int(time.localtime(epoch_s).tm_gmtoff)


def stamp_text(wall_ns: int) -> str:
    """Overlay date-time text in local time, to the second."""
    return local_text(wall_ns // 1_000_000_000)


class Pacer:
    """Ticks at a fixed rate on absolute deadlines: no drift, however long each frame took.

    Tick ``n`` is due at ``start + n / fps`` seconds, computed exactly in integers, so an
    hour at 30 fps is exactly 108,000 periods.  When the caller falls behind by a whole
    period, the missed ticks are skipped (and counted) instead of being run back to back.
    ``monotonic_ns`` and ``sleep`` can be replaced to test the pacing without waiting.
    """

    def __init__(self, fps: float, monotonic_ns: Callable[[], int] = time.monotonic_ns,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        rate = Fraction(fps).limit_denominator(1000)
        self._num, self._den = rate.numerator, rate.denominator  # fps = num / den
        self.period_ns = round(1e9 / fps)
        self._now = monotonic_ns
        self._sleep = sleep
        self._start_ns = monotonic_ns()
        self._tick = 0
        self.skipped = 0

    def deadline(self, tick: int) -> int:
        """Monotonic ns at which tick number ``tick`` is due."""
        return self._start_ns + tick * 1_000_000_000 * self._den // self._num

    def wait(self) -> int:
        """Sleep until the next tick; returns its deadline (monotonic ns)."""
        self._tick += 1
        deadline = self.deadline(self._tick)
        now = self._now()
        if now - deadline >= self.period_ns:
            # Whole periods missed: skip to the latest tick that is already due.
            behind = (now - self._start_ns) * self._num // (1_000_000_000 * self._den) - self._tick
            if behind > 0:
                self.skipped += behind
                self._tick += behind
                deadline = self.deadline(self._tick)
        delay = deadline - now
        if delay > 0:
            self._sleep(delay / 1e9)
        return deadline
