"""The retention rule alone (no files, no database): which segment goes next, and how the
status says which rule binds."""
from __future__ import annotations

import random

from common.archive.index import Recording
from recorder.retention.policy import (
    DAY,
    EVENT_AGE,
    EVENT_SHARE,
    HOUR,
    IN_WINDOW,
    OLDEST,
    ONLY_EVENTS,
    TOO_OLD,
    Choice,
    Kept,
    Limits,
    Need,
    View,
    choose,
    describe,
    window_state,
)

LIMITS = Limits(keep_continuous_s=24 * HOUR, event_share=0.4, event_keep_s=30 * DAY)
SPACE = Need(space=True)
FLOOR = Need(space=True, floor=True)


def seg(i: int, event: bool = False, camera: int = 0) -> Recording:
    """The i-th segment written (30 s each)."""
    return Recording(f"cam{camera}/261126/cam{camera}_20261126_{i:06d}.mp4", camera, 1000.0 + 30 * i, 30.0, 100,
                     1030.0 + 30 * i, event)


def test_a_plain_segment_goes_before_an_older_kept_event_segment() -> None:
    view = View(total_bytes=1000, event_bytes=300, plain=seg(5), event=seg(1, True), oldest_age_s=2 * DAY)
    assert choose(view, LIMITS, SPACE) == Choice(seg(5), "free space", OLDEST)


def test_over_their_share_the_oldest_event_segment_goes_even_before_an_older_plain_one() -> None:
    view = View(total_bytes=1000, event_bytes=401, plain=seg(1), event=seg(5, True), oldest_age_s=DAY)
    assert choose(view, LIMITS, SPACE) == Choice(seg(5, True), "free space", EVENT_SHARE)
    at_share = View(total_bytes=1000, event_bytes=400, plain=seg(1), event=seg(5, True), oldest_age_s=DAY)
    assert choose(at_share, LIMITS, SPACE) == Choice(seg(1), "free space", OLDEST)


def test_an_event_segment_older_than_event_keep_days_goes_oldest_first() -> None:
    old = View(total_bytes=1000, event_bytes=100, plain=seg(5), event=seg(1, True), oldest_age_s=31 * DAY)
    assert choose(old, LIMITS, SPACE) == Choice(seg(1, True), "free space", EVENT_AGE)
    # a plain segment older than it goes before it (oldest first): its age is not asked
    older_plain = View(total_bytes=1000, event_bytes=100, plain=seg(0), event=seg(1, True), oldest_age_s=32 * DAY)
    assert choose(older_plain, LIMITS, SPACE) == Choice(seg(0), "free space", OLDEST)


def test_kept_event_segments_go_when_nothing_else_is_outside_the_window() -> None:
    view = View(total_bytes=1000, event_bytes=100, event=seg(1, True), oldest_age_s=DAY)
    assert choose(view, LIMITS, SPACE) == Choice(seg(1, True), "free space", ONLY_EVENTS)


def test_only_the_free_space_floor_cuts_into_the_window() -> None:
    view = View(total_bytes=1000, event_bytes=0, kept=seg(100))
    assert choose(view, LIMITS, FLOOR) == Choice(seg(100), "free space", IN_WINDOW)
    assert choose(view, LIMITS, SPACE) is None                 # under floor + headroom only: it waits
    assert choose(view, LIMITS, Need(quota=True)) is None      # the quota never takes the window


def test_nothing_goes_without_a_need_but_age_takes_what_is_outside_the_window() -> None:
    view = View(total_bytes=1000, event_bytes=0, plain=seg(3), event=seg(2, True), oldest_age_s=8 * DAY)
    assert choose(view, LIMITS, Need()) is None
    aged = Limits(max_age_s=7 * DAY, keep_continuous_s=HOUR)
    assert choose(view, aged, Need()) == Choice(seg(2, True), "age", TOO_OLD)
    # the window's segments have no age limit: none is offered here
    assert choose(View(total_bytes=1000, event_bytes=0, kept=seg(9)), aged, Need()) is None


def test_the_quota_follows_the_same_order() -> None:
    view = View(total_bytes=1000, event_bytes=500, plain=seg(1), event=seg(2, True), oldest_age_s=DAY)
    assert choose(view, LIMITS, Need(quota=True)) == Choice(seg(2, True), "quota", EVENT_SHARE)


def test_limits_from_the_configuration() -> None:
    from common.config.sections import RecorderSection
    lim = Limits.of(RecorderSection())
    assert lim.keep_continuous_s == 24 * HOUR and lim.event_share == 0.4 and lim.event_keep_s == 30 * DAY
    assert lim.floor == 1_000_000_000 and lim.target == 1_500_000_000 and lim.nominal_s == 30


def test_the_status_says_which_rule_binds() -> None:
    kept = Kept(continuous_s=31 * HOUR, event_age_s=4.1 * DAY, event_bytes=38, total_bytes=100)
    plain = Choice(seg(1), "free space", OLDEST)
    assert describe(kept, LIMITS, plain) == "keeping 31 h continuous and 4.1 days of events (events at 38% of 40%)"
    assert describe(kept, LIMITS, Choice(seg(1), "free space", EVENT_SHARE)) == \
        "keeping 31 h continuous and 4.1 days of events (events at their share: 38% of 40%)"
    assert describe(kept, LIMITS, Choice(seg(1), "free space", EVENT_AGE)).endswith("; events older than 30 days go")
    assert describe(kept, Limits(quota=10**11, event_share=0.4), Choice(seg(1), "quota", OLDEST)).startswith(
        "quota 100 GB: keeping 31 h")
    assert describe(kept, LIMITS, None) == "nothing deleted: 31 h continuous and 4.1 days of events recorded"
    cut = Kept(continuous_s=9 * HOUR, event_age_s=None, event_bytes=0, total_bytes=100, window_cut=True)
    assert describe(cut, LIMITS, Choice(seg(1), "free space", IN_WINDOW)) == "free space: keeping only 9.0 h continuous"
    assert window_state(cut, LIMITS) == \
        "the disk holds only 9.0 h of both cameras; recorder.keep_continuous_hours = 24"
    assert kept.doc() == {"continuous_h": 31.0, "events_days": 4.1, "event_percent": 38.0, "window_cut": False}


def test_a_long_run_keeps_the_window_and_never_takes_a_plain_segment_before_a_kept_event_segment() -> None:
    """A small archive driven by the rule alone: segments arrive (a third hold an event), room
    is made for each; the view is told by a plain model of the archive, as the index would."""
    rng = random.Random(20)
    window_n = 40                     # the window: the newest 40 segments
    limits = Limits(keep_continuous_s=window_n * 30.0, event_share=0.3, event_keep_s=600 * 30.0)
    archive: list[Recording] = []
    for i in range(2000):
        archive.append(seg(i, rng.random() < 1 / 3))
        while len(archive) > 200:    # the disk holds 200 segments
            outside = archive[:-window_n]
            plain = next((r for r in outside if not r.event), None)
            event = next((r for r in outside if r.event), None)
            first = plain if event is None or (plain is not None and plain.written < event.written) else event
            age = None if first is None else 1030.0 + 30 * i - first.written
            view = View(total_bytes=100 * len(archive), event_bytes=100 * sum(1 for r in outside if r.event),
                        plain=plain, event=event, oldest_age_s=age)
            choice = choose(view, limits, FLOOR)
            assert choice is not None and choice.rule != IN_WINDOW   # the window always fits here
            victim = choice.victim
            kept_older_events = [r for r in outside if r.event and r.written < victim.written]
            if not victim.event and kept_older_events:
                assert view.event_bytes <= limits.event_share * view.total_bytes   # events within their share
            if victim.event and plain is not None and plain.written < victim.written:
                assert choice.rule == EVENT_SHARE
            archive.remove(victim)
        if i >= 300:   # long full: events outside the window within their share (and one segment)
            assert sum(1 for r in archive[:-window_n] if r.event) <= limits.event_share * len(archive) + 1
    assert [r.written for r in archive[-window_n:]] == [1030.0 + 30 * i for i in range(2000 - window_n, 2000)]
