"""The retention rule: which segment goes next, and what the archive keeps.

In one line: the newest ``recorder.keep_continuous_hours`` of each camera are never deleted;
beyond them, segments that hold a motion event are kept while all of those take at most
``recorder.event_share_percent`` of the recordings' bytes and are younger than
``recorder.event_keep_days``; everything else goes oldest first.

When room is needed (free space under the floor, recordings over the quota), the next to go is

1. events over their share: the oldest event segment outside the window;
2. else the oldest segment outside the window that is not a kept event segment: the oldest
   plain one, or the oldest event segment when it is older than that and older than
   ``event_keep_days``;
3. only kept event segments left outside the window: the oldest of them;
4. nothing outside the window: its oldest segment, but only for the free-space floor (never
   for the quota), and the state then says the window is not kept.

``max_age_days`` takes whatever is outside the window and older than that, room needed or not.
The window is counted in recorded time, newest first in write order, so no wall-clock step
moves it; ages come from the recorder's own clock, and a segment is never younger than one
written after it (see :mod:`recorder.retention.diskguard`).

Pure: no files, no database, no clock.  Given what the archive index says, it answers, so the
rule is tested, and simulated over a month, as it runs.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.archive.index import Recording
from common.config.sections import RecorderSection
from common.state.documents import RetentionKept

GB = 1_000_000_000
HOUR = 3600.0
DAY = 86400.0

# Why a segment was picked (the status and the log say it).
OLDEST = "oldest outside the window"
EVENT_SHARE = "events over their share"
EVENT_AGE = "event older than event_keep_days"
ONLY_EVENTS = "only event segments left outside the window"
IN_WINDOW = "inside the continuous window"
TOO_OLD = "older than max_age_days"


@dataclass(frozen=True)
class Limits:
    """What retention keeps; bytes and seconds."""

    retention: bool = True         # off: only warn, never delete
    warn: int = 0                  # free bytes under which the disk is low
    floor: int = 0                 # free bytes under which room is made (0: only a full disk makes room)
    target: int = 0                # free bytes at which making room stops
    quota: int = 0                 # recordings' bytes at most (0: no quota)
    max_age_s: float = 0.0         # nothing outside the window is older (0: no limit)
    keep_continuous_s: float = 0.0
    event_share: float = 0.0       # a fraction of the recordings' bytes
    event_keep_s: float = 0.0
    nominal_s: float = 30.0        # what a segment whose duration is not measured yet counts as

    @classmethod
    def of(cls, rc: RecorderSection) -> Limits:
        return cls(retention=rc.retention, warn=int(rc.disk_warn_gb * GB), floor=int(rc.free_floor_gb * GB),
                   target=int(rc.free_target_gb * GB), quota=int(rc.quota_gb * GB), max_age_s=rc.max_age_days * DAY,
                   keep_continuous_s=rc.keep_continuous_hours * HOUR, event_share=rc.event_share_percent / 100,
                   event_keep_s=rc.event_keep_days * DAY, nominal_s=float(rc.segment_seconds))


@dataclass(frozen=True)
class View:
    """What the archive index says, as far as the next choice needs it."""

    total_bytes: int                   # every segment of ours
    event_bytes: int                   # the event segments outside the window
    plain: Recording | None = None     # the oldest plain segment outside the window
    event: Recording | None = None     # the oldest event segment outside the window
    oldest_age_s: float | None = None  # the age of the older of those two
    kept: Recording | None = None      # the window's oldest segment (needed only when nothing is outside)


@dataclass(frozen=True)
class Need:
    """Why room is made now."""

    space: bool = False   # free space fell under the floor (and is not back at the target), or a write failed
    floor: bool = False   # under the floor itself, or a write failed: the window may be cut into
    quota: bool = False   # the recordings are over the quota


@dataclass(frozen=True)
class Choice:
    victim: Recording
    trigger: str          # why something goes: "free space", "quota" or "age"
    rule: str             # why this one (OLDEST, EVENT_SHARE...)


def older(a: Recording | None, b: Recording | None) -> Recording | None:
    """The one written first (either may be None)."""
    if a is None or b is None:
        return a if b is None else b
    return a if (a.written, a.start) <= (b.written, b.start) else b


def events_over_share(view: View, limits: Limits) -> bool:
    return view.event_bytes > limits.event_share * view.total_bytes


def choose(view: View, limits: Limits, need: Need) -> Choice | None:
    """The segment to delete next, or None when nothing should go."""
    first = older(view.plain, view.event)
    if (first is not None and limits.max_age_s and view.oldest_age_s is not None
            and view.oldest_age_s > limits.max_age_s):
        return Choice(first, "age", TOO_OLD)
    if not (need.space or need.quota):
        return None
    trigger = "free space" if need.space else "quota"
    if view.event is not None:
        if events_over_share(view, limits):
            return Choice(view.event, trigger, EVENT_SHARE)
        if first is view.event and view.oldest_age_s is not None and view.oldest_age_s > limits.event_keep_s:
            return Choice(view.event, trigger, EVENT_AGE)
    if view.plain is not None:
        return Choice(view.plain, trigger, OLDEST)
    if view.event is not None:
        return Choice(view.event, trigger, ONLY_EVENTS)
    if need.floor and view.kept is not None:
        return Choice(view.kept, "free space", IN_WINDOW)
    return None


@dataclass(frozen=True)
class Kept:
    """What the archive holds, for the status: the retention rule's outcome."""

    continuous_s: float          # the camera with the least: recorded time back to its newest segment that went
    event_age_s: float | None    # the oldest event segment kept, the window's too (None: none is)
    event_bytes: int             # event segments outside the window
    total_bytes: int
    window_cut: bool = False     # free space took segments of the window, and it is not whole again yet

    def doc(self) -> RetentionKept:
        return {"continuous_h": round(self.continuous_s / HOUR, 2),
                "events_days": None if self.event_age_s is None else round(self.event_age_s / DAY, 2),
                "event_percent": round(100 * self.event_bytes / self.total_bytes, 1) if self.total_bytes else 0.0,
                "window_cut": self.window_cut}


def _hours(seconds: float) -> str:
    h = seconds / HOUR
    if h < 1:
        return f"{seconds / 60:.0f} min"
    return f"{h:.0f} h" if h >= 10 else f"{h:.1f} h"


def window_state(kept: Kept, limits: Limits) -> str:
    """The state when free space cut into the window: health fails with it."""
    return (f"the disk holds only {_hours(kept.continuous_s)} of both cameras; "
            f"recorder.keep_continuous_hours = {limits.keep_continuous_s / HOUR:g}")


def describe(kept: Kept, limits: Limits, binding: Choice | None, gone: bool = False) -> str:
    """Which rule binds, in the owner's words: "keeping 31 h continuous and 4.1 days of events
    (events at 38% of 40%)"; ``binding``: this guard's last choice (None: it deleted nothing
    yet); ``gone``: segments went all the same (the other recorder made the room)."""
    if kept.window_cut:
        return f"free space: keeping only {_hours(kept.continuous_s)} continuous"
    share = 100 * kept.event_bytes / kept.total_bytes if kept.total_bytes else 0.0
    events = "no events" if kept.event_age_s is None else f"{kept.event_age_s / DAY:.1f} days of events"
    if binding is None and not gone:
        return f"nothing deleted: {_hours(kept.continuous_s)} continuous and {events} recorded"
    text = f"keeping {_hours(kept.continuous_s)} continuous and {events}"
    if binding is not None and binding.rule == EVENT_SHARE:
        text += f" (events at their share: {share:.0f}% of {100 * limits.event_share:.0f}%)"
    else:
        text += f" (events at {share:.0f}% of {100 * limits.event_share:.0f}%)"
    if binding is None:
        return text
    if binding.rule == EVENT_AGE:
        text += f"; events older than {limits.event_keep_s / DAY:g} days go"
    if binding.trigger == "quota":
        text = f"quota {limits.quota / GB:g} GB: {text}"
    elif binding.trigger == "age":
        text = f"max age {limits.max_age_s / DAY:g} days: {text}"
    return text
