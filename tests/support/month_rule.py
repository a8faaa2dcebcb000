"""The retention rule, as checks on what the simulated month's files show.

The rule: the newest ``keep_continuous_hours`` of recorded time of each camera (newest first,
so no wall-clock step moves it) are never deleted, unless nothing else is left.  Beyond that
window, event segments stay while those outside the window take at most ``event_share_percent``
of the recordings' space (the bytes of every segment on the disk) and are younger than
``event_keep_days``; when space is needed the oldest event segment outside the window goes if
events are over their share or too old, else the oldest plain segment outside the window.

Two kinds of check.  At every simulated hour: the window is complete and events are within their
share (once the disk is full; give or take one pass's worth, ``slack_bytes``, since segments
leave the window between passes).  After every retention pass that deleted anything, what it
deleted against the state before it: nothing from a window while anything else was deletable;
no event segment while events were within their share and a plain one could go; no plain
segment younger than a kept event segment while events were over their share or that one too
old; and within each kind, oldest first.  A pass's deletions are seen together, not one by one,
so each check takes the bound that cannot accuse a correct pass (stated at each).
"""
from __future__ import annotations

from dataclasses import dataclass

from tests.support.month_ledger import Ledger, Seg

DAY_S = 86400.0
AGE_SLACK_S = 3600.0   # an age this close to event_keep_days counts as either (wall steps, pass times)


@dataclass(frozen=True)
class Rule:
    """The rule's settings, named as the recorder's configuration keys."""

    keep_continuous_hours: float = 24.0
    event_share_percent: float = 40.0
    event_keep_days: float = 30.0

    @property
    def window_s(self) -> float:
        return self.keep_continuous_hours * 3600.0

    @property
    def share(self) -> float:
        return self.event_share_percent / 100.0


def window_files(ledger: Ledger, rule: Rule) -> frozenset[str]:
    return frozenset(s.file for cam in range(ledger.cameras) for s in ledger.window(cam, rule.window_s))


def events_outside(ledger: Ledger, window: frozenset[str]) -> int:
    """Bytes of the event segments on the disk outside ``window``."""
    inside = sum(ledger.by_file[f].size for f in window
                 if f in ledger.by_file and ledger.by_file[f].present and ledger.by_file[f].event)
    return ledger.event_bytes - inside


def missing_in_window(ledger: Ledger, rule: Rule) -> list[Seg]:
    return [s for cam in range(ledger.cameras) for s in ledger.window(cam, rule.window_s) if not s.present]


def nothing_else(ledger: Ledger, window: frozenset[str]) -> bool:
    """Is every deletable segment on the disk inside a window (so the floor may take from one)?"""
    return not any(ledger.deletable(s) and s.file not in window for s in ledger.present())


def _oldest(ledger: Ledger, window: frozenset[str], event: bool) -> Seg | None:
    """The oldest deletable segment of one kind outside the window."""
    firsts = (next((s for s in cam if s.present and s.event == event and s.file not in window
                    and ledger.deletable(s)), None) for cam in ledger.by_camera)
    return min((s for s in firsts if s is not None), key=lambda s: s.start, default=None)


def _older_kept(ledger: Ledger, window: frozenset[str], event: bool, than: Seg, segment_s: float) -> Seg | None:
    """A kept deletable segment of one kind outside the window clearly older than ``than`` (by
    more than half a segment: two cameras finish at the same boundary in either order)."""
    limit = than.start - segment_s / 2
    for cam in ledger.by_camera:
        for s in cam:   # in write order, so by true start
            if s.start >= limit:
                break
            if s.present and s.event == event and s.file not in window and ledger.deletable(s):
                return s
    return None


def judge_pass(removed: list[Seg], ledger: Ledger, rule: Rule, now: float, segment_s: float) -> list[tuple[str, str]]:
    """(kind, detail) of each way the pass that removed ``removed`` broke the rule; ``ledger`` is
    the state after it (deleting moves no window: it counts what was written), ``now`` true seconds."""
    found: list[tuple[str, str]] = []
    window = window_files(ledger, rule)
    total_before = ledger.total + sum(s.size for s in removed)
    keep_s = rule.event_keep_days * DAY_S

    def age(s: Seg) -> float:
        return now - s.end

    in_window = [s for s in removed if s.file in window]
    if in_window and not nothing_else(ledger, window):
        found.append(("pass deleted from the continuous window",
                      f"{len(in_window)} segment(s), e.g. {in_window[-1].file}, while older ones could go"))
    outside = [s for s in removed if s.file not in window]
    events = [s for s in outside if s.event]
    plain = [s for s in outside if not s.event]
    event_after = events_outside(ledger, window)

    young = [s for s in events if age(s) < keep_s - AGE_SLACK_S]
    if young and _oldest(ledger, window, False) is not None:
        # Events were over their share when the last one went if the share was over with it put
        # back (the smallest the recordings' space can have been then: nothing else deleted after).
        e = young[-1]
        if (event_after + e.size) / (ledger.total + e.size) <= rule.share:
            found.append(("event segment deleted while events were within their share",
                          f"{len(young)} event segment(s), e.g. {e.file}, while plain ones outside the window "
                          f"were left; events at {100 * event_after / max(1, ledger.total):.1f}% after the pass"))

    oldest_event = _oldest(ledger, window, True)
    if plain and oldest_event is not None:
        younger = [p for p in plain if p.start > oldest_event.start + segment_s / 2]
        if younger:
            # The share can only have been higher while the pass deleted: events only went, and
            # the recordings' space was at most what it was before the pass.
            over = event_after / max(1, total_before) > rule.share
            too_old = age(oldest_event) > keep_s + AGE_SLACK_S
            if over or too_old:
                why = (f"events over their share ({100 * event_after / max(1, total_before):.1f}% at least)" if over
                       else f"it is {age(oldest_event) / DAY_S:.1f} days old")
                found.append(("plain segment deleted before an older event segment",
                              f"{younger[-1].file} deleted while {oldest_event.file} was kept: {why}"))

    for kind, done in (("plain", plain), ("event", events)):
        if done:
            last = max(done, key=lambda s: s.start)
            older = _older_kept(ledger, window, kind == "event", last, segment_s)
            if older is not None:
                found.append((f"{kind} segments not deleted oldest first",
                              f"{last.file} deleted while the older {older.file} was kept"))
    return found


def share_now(ledger: Ledger, rule: Rule) -> float:
    """The event segments outside the window, as a fraction of the recordings' space."""
    return events_outside(ledger, window_files(ledger, rule)) / max(1, ledger.total)


def over_share(ledger: Ledger, rule: Rule, slack_bytes: int) -> str:
    """Why the events are over their share (beyond ``slack_bytes``), or ""."""
    window = window_files(ledger, rule)
    event_bytes = events_outside(ledger, window)
    if event_bytes - slack_bytes <= rule.share * ledger.total:
        return ""
    return (f"event segments outside the window take {100 * event_bytes / max(1, ledger.total):.1f}% of "
            f"the recordings' space (at most {rule.event_share_percent:g}%)")


@dataclass(frozen=True)
class Kept:
    """What the files on the disk keep, as health should tell it."""

    continuous_hours: float         # of the camera that has the fewest, newest first up to the first hole
    event_days: float | None        # age of the oldest event segment on the disk; None: none
    event_percent: float            # event segments outside the window, % of the recordings' space


def kept(ledger: Ledger, rule: Rule, now: float) -> Kept:
    """At true time ``now``."""
    oldest = min((s.start for s in ledger.present() if s.event), default=None)
    return Kept(min(ledger.continuous(c) for c in range(ledger.cameras)) / 3600,
                None if oldest is None else (now - oldest) / DAY_S, 100 * share_now(ledger, rule))
