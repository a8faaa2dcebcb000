"""A recorder writing the first segment since it started is starting, not failing."""
from __future__ import annotations

from datetime import datetime

from streamer.archive.health import starting

SEG_S = 30


def _doc(start: datetime, **fields: object) -> dict[str, object]:
    name = f"cam0/{start:%y%m%d}/cam0_{start:%Y%m%d_%H%M%S}.mp4"
    return {"state": "recording", "segments_written": 0, "current_file": name, **fields}


def test_the_first_segment_begun_within_two_segment_lengths_is_starting() -> None:
    begun = datetime(2026, 12, 4, 14, 2, 10)
    now = begun.timestamp()
    assert starting(_doc(begun), now + 5, SEG_S)
    assert starting(_doc(begun), now + 2 * SEG_S, SEG_S)


def test_a_first_segment_that_never_ends_is_no_longer_starting() -> None:
    begun = datetime(2026, 12, 4, 14, 2, 10)
    assert not starting(_doc(begun), begun.timestamp() + 2 * SEG_S + 1, SEG_S)


def test_only_a_recording_recorder_without_a_finished_segment_is_starting() -> None:
    begun = datetime(2026, 12, 4, 14, 2, 10)
    now = begun.timestamp() + 5
    assert not starting(_doc(begun, segments_written=1), now, SEG_S)
    assert not starting(_doc(begun, state="paused"), now, SEG_S)
    assert not starting(_doc(begun, current_file=None), now, SEG_S)
    assert not starting(_doc(begun, current_file="elsewhere/file.mp4"), now, SEG_S)
    assert not starting(None, now, SEG_S)


def test_a_recorder_waiting_for_its_first_frames_since_a_recent_start_is_starting() -> None:
    started = datetime(2026, 12, 4, 14, 2, 10).timestamp()
    waiting = {"state": "waiting", "segments_written": 0, "current_file": None, "started_at": started}
    assert starting(waiting, started + 3, SEG_S)
    assert starting(waiting, started + 2 * SEG_S, SEG_S)
    assert not starting(waiting, started + 2 * SEG_S + 1, SEG_S)    # still waiting a minute on: a fault
    assert not starting({**waiting, "segments_written": 2}, started + 3, SEG_S)
    assert not starting({k: v for k, v in waiting.items() if k != "started_at"}, started + 3, SEG_S)
