"""The segment name grammar: round trips, the ``_K`` suffix, part names, and garbage refused."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import PurePosixPath

import pytest

from common.archive import segment_name as sn

START = datetime(2026, 12, 1, 16, 45, 10)


@pytest.mark.parametrize("camera, collision", [(0, 0), (1, 0), (0, 1), (1, 12), (10, 3)])
def test_names_round_trip(camera: int, collision: int) -> None:
    name = sn.for_start(camera, START, collision)
    parsed = sn.parse(name.name)
    assert parsed == name
    assert sn.parse_rel_path(str(name.rel_path)) == name
    assert str(name.rel_path).startswith(f"cam{camera}/261201/cam{camera}_20261201_164510")


def test_the_name_is_the_recorders_form() -> None:
    assert sn.for_start(0, START).name == "cam0_20261201_164510.mp4"
    assert sn.for_start(0, START, 1).name == "cam0_20261201_164510_1.mp4"
    assert str(sn.for_start(1, START).rel_path) == "cam1/261201/cam1_20261201_164510.mp4"
    # An aware local time and sub-second digits give the same name as the naive second.
    aware = START.replace(microsecond=999_000, tzinfo=UTC)
    assert sn.for_start(0, aware) == sn.for_start(0, START)
    parsed = sn.parse("cam1_20261201_164510_1.mp4")
    assert parsed is not None and (parsed.camera, parsed.start, parsed.collision) == (1, START, 1)


@pytest.mark.parametrize("name", [
    "", "cam0_20261201_164510.mp4\n", "cam0_20261201_164510.mp4.part", "cam0_20261201_164510.MP4",
    "cam_20261201_164510.mp4", "cam00_20261201_164510.mp4", "cam-1_20261201_164510.mp4",
    "cam0_2026120_164510.mp4", "cam0_20261201_16451.mp4", "cam0_20261201-164510.mp4",
    "cam0_20261301_164510.mp4",          # month 13
    "cam0_20261201_246000.mp4",          # not a time of day
    "cam0_20261201_164510_0.mp4", "cam0_20261201_164510_01.mp4", "cam0_20261201_164510_.mp4",
    "cam0_20261201_164510_1_1.mp4", "cam٠_20261201_164510.mp4", "cam0_２0261201_164510.mp4",
    "xcam0_20261201_164510.mp4", "cam0_20261201_164510.mp4x", ".cam0_20261201_164510.mp4",
])
def test_garbage_is_not_a_segment(name: str) -> None:
    assert sn.parse(name) is None


@pytest.mark.parametrize("rel, reason", [
    ("cam0/261201/cam1_20261201_164510.mp4", "does not match the camera folder"),
    ("cam0/2612010/cam0_20261201_164510.mp4", "path must be"),
    ("cam0/261301/cam0_20261201_164510.mp4", "path must be"),
    ("cam0/261201/../cam0_20261201_164510.mp4", "path must be"),
    ("cam0/cam0_20261201_164510.mp4", "path must be"),
    ("camX/261201/cam0_20261201_164510.mp4", "path must be"),
    ("/cam0/261201/cam0_20261201_164510.mp4", "path must be"),
    ("cam0/261201/.cam0_20261201_164510.mp4.part", "path must be"),
])
def test_paths_not_of_a_segment_are_refused_with_a_reason(rel: str, reason: str) -> None:
    got = sn.parse_rel_path(rel)
    assert isinstance(got, str) and reason in got


def test_day_folders() -> None:
    assert sn.day_folder(START) == "261201" and sn.is_day("261201")
    assert sn.day_error("2612") == sn.day_error("26120a") == "expected six digits YYMMDD"
    assert sn.day_error("261340") == "not a calendar date"
    assert not sn.is_day("261201\n") and not sn.is_day("２61201")
    assert sn.camera_of_folder("cam1") == 1 and sn.camera_of_folder("cam") is None
    assert sn.camera_of_folder("cam01") is None and sn.camera_of_folder("camera") is None


def test_part_names_round_trip_and_only_segments_have_one() -> None:
    final = sn.for_start(0, START, 2)
    part = sn.part_path(final.rel_path)
    assert part == PurePosixPath("cam0/261201/.cam0_20261201_164510_2.mp4.part")
    assert sn.is_part(part.name) and sn.final_of_part(part.name) == final.name
    assert sn.final_of_part(".notes.txt.part") is None and sn.final_of_part(final.name) is None
    assert sn.final_of_part(".part") is None and not sn.is_part(".part")


def test_alternatives_move_to_later_seconds_then_number_within_the_day() -> None:
    later = list(itertools.islice(sn.alternatives("cam0_20261201_164510.mp4"), 3))
    assert later == ["cam0_20261201_164511.mp4", "cam0_20261201_164512.mp4", "cam0_20261201_164513.mp4"]
    every = list(itertools.islice(sn.alternatives("cam0_20261201_164510.mp4"), sn.LATER_SECONDS + 2))
    assert every[sn.LATER_SECONDS - 1] == "cam0_20261201_164609.mp4"
    assert every[sn.LATER_SECONDS:] == ["cam0_20261201_164510_1.mp4", "cam0_20261201_164510_2.mp4"]
    # The last second of the day: never a name on the next day, so the suffix at once.
    assert next(sn.alternatives("cam1_20261201_235959.mp4")) == "cam1_20261201_235959_1.mp4"
    # Every alternative is itself a segment name, on the same day and camera.
    for name in itertools.islice(sn.alternatives("cam1_20261201_235930.mp4"), 40):
        parsed = sn.parse(name)
        assert parsed is not None and parsed.camera == 1 and parsed.day == "261201"
    # A name outside the grammar only gets numbered.
    assert list(itertools.islice(sn.alternatives("clip.mp4"), 2)) == ["clip_1.mp4", "clip_2.mp4"]
