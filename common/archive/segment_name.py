"""Segment file names, declared once for the recorder, the disk guard and the streamer.

A finished segment is ``cam{N}/YYMMDD/cam{N}_YYYYMMDD_HHMMSS[_K].mp4``: the camera, the
day folder and the local time of its first frame.  ``_K`` (1, 2, ...) is added only when
the name and the few seconds after it are taken (see :func:`alternatives`).  While it is
written the file is hidden as ``.cam{N}_YYYYMMDD_HHMMSS.mp4.part`` in the same folder.
Names are matched whole, ASCII digits only: nothing else under the root is a segment.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

DAY_FORMAT = "%y%m%d"                  # the day folder
STAMP_FORMAT = "%Y%m%d_%H%M%S"         # the start time in the file name
EXTENSION = ".mp4"
PART_PREFIX = "."
PART_SUFFIX = ".part"
SHAPE = "cam{N}/YYMMDD/cam{N}_YYYYMMDD_HHMMSS[_K].mp4"   # for error messages

_NUMBER = r"(0|[1-9]\d*)"              # no leading zeros: a name parses back to itself
_NAME_RE = re.compile(rf"cam{_NUMBER}_(\d{{8}}_\d{{6}})(?:_([1-9]\d*))?\.mp4", re.ASCII)
_DAY_RE = re.compile(r"\d{6}", re.ASCII)
_CAMERA_DIR_RE = re.compile(rf"cam{_NUMBER}", re.ASCII)
LATER_SECONDS = 59                     # how far a taken name moves before ``_K`` is used


@dataclass(frozen=True)
class SegmentName:
    camera: int
    start: datetime        # local time of the first frame, to the second
    collision: int = 0     # the ``_K`` suffix; 0 for none

    @property
    def name(self) -> str:
        tail = f"_{self.collision}" if self.collision else ""
        return f"cam{self.camera}_{self.start:{STAMP_FORMAT}}{tail}{EXTENSION}"

    @property
    def day(self) -> str:
        return day_folder(self.start)

    @property
    def rel_path(self) -> PurePosixPath:
        """Relative to the recordings root: ``cam{N}/YYMMDD/<name>``."""
        return PurePosixPath(camera_folder(self.camera), self.day, self.name)


def camera_folder(camera: int) -> str:
    return f"cam{camera}"


def camera_of_folder(name: str) -> int | None:
    m = _CAMERA_DIR_RE.fullmatch(name)
    return int(m.group(1)) if m else None


def day_folder(when: datetime) -> str:
    return when.strftime(DAY_FORMAT)


def day_error(name: str) -> str:
    """Why ``name`` is not a day folder (six digits that make a calendar date); "" when it is."""
    if not _DAY_RE.fullmatch(name):
        return "expected six digits YYMMDD"
    try:
        datetime.strptime(name, DAY_FORMAT)
    except ValueError:
        return "not a calendar date"
    return ""


def is_day(name: str) -> bool:
    return not day_error(name)


def for_start(camera: int, start: datetime, collision: int = 0) -> SegmentName:
    """The name of a segment whose first frame was captured at local time ``start``."""
    return SegmentName(camera, start.replace(microsecond=0, tzinfo=None), collision)


def parse(name: str) -> SegmentName | None:
    """The parts of a finished segment's file name; None for any other name."""
    m = _NAME_RE.fullmatch(name)
    if m is None:
        return None
    try:
        start = datetime.strptime(m.group(2), STAMP_FORMAT)
    except ValueError:
        return None  # digits, but not a time of day on a calendar date
    return SegmentName(int(m.group(1)), start, int(m.group(3) or 0))


def parse_rel_path(rel: str) -> SegmentName | str:
    """``cam{N}/YYMMDD/<name>`` parsed, or the reason it is not a segment's path."""
    pieces = rel.split("/")
    if len(pieces) != 3:
        return f"path must be {SHAPE}"
    cam_dir, day, name = pieces
    folder_camera = camera_of_folder(cam_dir)
    parsed = parse(name)
    if folder_camera is None or parsed is None or not is_day(day):
        return f"path must be {SHAPE}"
    if parsed.camera != folder_camera:
        return "file name does not match the camera folder"
    return parsed


def part_name(final: str) -> str:
    """The hidden name a segment has while it is written."""
    return f"{PART_PREFIX}{final}{PART_SUFFIX}"


def part_path(rel_path: PurePosixPath) -> PurePosixPath:
    return rel_path.with_name(part_name(rel_path.name))


def is_part(name: str) -> bool:
    return name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX) and len(name) > len(PART_PREFIX + PART_SUFFIX)


def final_of_part(name: str) -> str | None:
    """``.cam0_...mp4.part`` -> ``cam0_...mp4``; None when it is not a segment's part name."""
    if not is_part(name):
        return None
    inner = name[len(PART_PREFIX):-len(PART_SUFFIX)]
    return inner if parse(inner) is not None else None


def alternatives(name: str) -> Iterator[str]:
    """Names to try, in order, when ``name`` is taken; endless.

    First the same camera a second later, up to :data:`LATER_SECONDS` later and never on
    the next day (so most names keep the plain form), then ``_1``, ``_2``... on the
    original time.  A name outside the grammar only gets ``_1``, ``_2``... before its
    extension.
    """
    parsed = parse(name)
    if parsed is None:
        stem, dot, ext = name.rpartition(".")
        stem, ext = (stem, dot + ext) if dot else (name, "")
        n = 0
        while True:
            n += 1
            yield f"{stem}_{n}{ext}"
    base = SegmentName(parsed.camera, parsed.start)
    for k in range(1, LATER_SECONDS + 1):
        later = parsed.start + timedelta(seconds=k)
        if later.date() != parsed.start.date():
            break
        yield SegmentName(parsed.camera, later).name
    n = 0
    while True:
        n += 1
        yield SegmentName(base.camera, base.start, n).name
