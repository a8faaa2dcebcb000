"""Segment boundaries and names, with an injected clock and time zone (no processes)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath

from common.archive.segment_name import final_of_part, part_path
from recorder.segments.segmenter import CaptureWallClock, Segmenter

PERIOD_NS = 1_000_000_000 // 30  # 33.33 ms, truncated like a real capture clock would not be


def zone(hours: float):
    tz = timezone(timedelta(hours=hours))
    return lambda wall_ns: datetime.fromtimestamp(wall_ns / 1e9, tz)


def wall(tz_hours: float, *args: int) -> int:
    """Wall ns of a local time in a fixed-offset zone."""
    dt = datetime(*args, tzinfo=timezone(timedelta(hours=tz_hours)))
    return int(dt.timestamp()) * 1_000_000_000


def split(seg: Segmenter, first_wall_ns: int, first_mono_ns: int, count: int, period_ns: float) -> list[list[int]]:
    """Feed ``count`` frames in order; returns the frame numbers of each segment."""
    segments: list[list[int]] = []
    current = None
    for n in range(count):
        mono = first_mono_ns + int(n * period_ns)
        w = first_wall_ns + int(n * period_ns)
        if current is None or seg.starts_new(current, mono, w):
            current = seg.begin(mono, w)
            segments.append([])
        segments[-1].append(n)
    return segments


def test_aligned_segments_hold_900_frames_and_start_on_the_half_minute() -> None:
    seg = Segmenter(0, 30, True, 30, zone(1))
    start = wall(1, 2026, 11, 26, 6, 29, 47) + 500_000_000   # 12.5 s before the boundary
    parts = split(seg, start, 10**12, 30 * 30 * 3 + 375, 1e9 / 30)
    assert len(parts[0]) == 375              # the first segment after a start is shorter
    assert [len(p) for p in parts[1:4]] == [900, 900, 900]
    # back to back: every frame in exactly one segment, in order
    assert [n for p in parts for n in p] == list(range(30 * 30 * 3 + 375))


def test_aligned_boundaries_are_counted_from_local_midnight() -> None:
    seg = Segmenter(1, 30, True, 30, zone(5.75))   # a zone 5 h 45 min from UTC
    s = seg.begin(0, wall(5.75, 2026, 11, 26, 10, 0, 12))
    assert s.end_wall_ns == wall(5.75, 2026, 11, 26, 10, 0, 30)
    assert str(s.rel_path) == "cam1/261126/cam1_20261126_100012.mp4"


def test_unaligned_segments_are_counted_in_capture_time() -> None:
    seg = Segmenter(0, 2, False, 30, zone(0))
    parts = split(seg, wall(0, 2026, 1, 1, 0, 0, 0) + 123_456_789, 5 * 10**9, 60 * 4, 1e9 / 30)
    assert [len(p) for p in parts] == [60, 60, 60, 60]


def test_stall_shows_in_capture_time_not_in_frame_count() -> None:
    """Frames stop for 0.5 s inside a segment: the segment still ends on time (fewer frames)."""
    seg = Segmenter(0, 2, False, 30, zone(0))
    s = seg.begin(0, 0)
    assert not seg.starts_new(s, int(1.9e9), int(1.9e9))
    assert seg.starts_new(s, int(2.0e9), int(2.0e9))


def test_midnight_starts_a_new_date_folder() -> None:
    seg = Segmenter(0, 30, True, 30, zone(-3))
    before = wall(-3, 2026, 12, 31, 23, 59, 45)
    s = seg.begin(7, before)
    assert str(s.rel_path) == "cam0/261231/cam0_20261231_235945.mp4"
    midnight = wall(-3, 2027, 1, 1, 0, 0, 0)
    assert s.end_wall_ns == midnight
    assert not seg.starts_new(s, 7 + midnight - before - PERIOD_NS, midnight - PERIOD_NS)
    assert seg.starts_new(s, 7 + midnight - before, midnight)
    nxt = seg.begin(7 + midnight - before, midnight)
    assert nxt.rel_path == PurePosixPath("cam0/270101/cam0_20270101_000000.mp4")


def test_wall_clock_stepping_back_ends_the_segment() -> None:
    seg = Segmenter(0, 30, True, 30, zone(0))
    s = seg.begin(0, wall(0, 2026, 6, 1, 12, 0, 5))
    assert seg.starts_new(s, PERIOD_NS, wall(0, 2026, 6, 1, 11, 0, 5))


def test_wall_clock_far_from_the_boundary_still_ends_after_one_segment() -> None:
    seg = Segmenter(0, 30, True, 30, zone(0))
    start = wall(0, 2026, 6, 1, 12, 0, 0)
    s = seg.begin(0, start)
    s.end_wall_ns = start + 3600 * 10**9   # as if the clock had jumped
    assert not seg.starts_new(s, 30 * 10**9 - PERIOD_NS, start)
    assert seg.starts_new(s, 30 * 10**9 + PERIOD_NS, start)


def test_temporary_names_round_trip() -> None:
    final = PurePosixPath("cam0/261126/cam0_20261126_063000.mp4")
    part = part_path(final)
    assert str(part) == "cam0/261126/.cam0_20261126_063000.mp4.part"
    assert final_of_part(part.name) == final.name
    assert final_of_part(".other.mp4.part") is None
    assert final_of_part("cam0_20261126_063000.mp4") is None


def test_late_wall_stamps_do_not_move_frames_across_a_boundary() -> None:
    """Wall stamps up to 80 ms late (a busy capture process): still 900 frames per segment."""
    rng = random.Random(7)
    seg = Segmenter(0, 30, True, 30, zone(0))
    clock = CaptureWallClock(window=60)
    offset = wall(0, 2026, 11, 26, 6, 29, 50) - 10**12
    counts: list[int] = []
    current = None
    for n in range(30 * 30 * 3 + 300):
        mono = 10**12 + round(n * 1e9 / 30)
        stamped = mono + offset + rng.randrange(0, 80_000_000)
        w = clock(mono, stamped)
        assert mono + offset <= w < mono + offset + 80_000_000
        if current is None or seg.starts_new(current, mono, w):
            current = seg.begin(mono, w)
            counts.append(0)
        counts[-1] += 1
    assert counts[1:4] == [900, 900, 900]


def test_capture_wall_clock_follows_a_clock_step() -> None:
    clock = CaptureWallClock(window=10)
    assert clock(1_000, 5_000) == 5_000
    assert clock(2_000, 6_500) == 6_000                   # a late stamp: the earlier offset holds
    assert clock(3_000, 3_600 * 10**9) == 3_600 * 10**9   # the clock stepped an hour: follow at once
    assert clock(4_000, 4_000 + 10**9) == 4_000 + 10**9   # and back again


def test_capture_wall_clock_forgets_offsets_older_than_its_window() -> None:
    clock = CaptureWallClock(window=10)
    clock(0, 100)                                        # the lowest offset, once
    assert [clock(n, n + 150) - n for n in range(1, 10)] == [100] * 9
    assert clock(10, 160) - 10 == 150                    # ten frames later it is gone
