"""Which segment a frame belongs to, and what the segment's file is called.

Pure logic, no I/O: the recorder asks :meth:`Segmenter.starts_new` for every frame, in
capture order, so the first frame of segment k+1 is exactly the frame after the last
frame of segment k.

* Aligned (default): boundaries fall on multiples of ``segment_seconds`` counted from
  local midnight (:00 and :30 for 30 s segments).  A frame whose capture wall time is at
  or past the boundary starts the next segment, so a full segment holds
  ``segment_seconds * fps`` frames.
* Not aligned: a segment ends after ``segment_seconds`` of capture (monotonic) time.

Names come from the first frame's local time (grammar: :mod:`common.archive.segment_name`).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from common.archive import segment_name

# A wall clock that steps back by more than this ends the segment (NTP fix at boot).
CLOCK_STEP_BACK_NS = 1_000_000_000


class CaptureWallClock:
    """The wall time of each frame's capture instant, steady even when its wall stamp is late.

    A frame's monotonic capture time is exact; its wall stamp may be taken later, when the
    capture process got to it (a busy machine).  ``wall - mono`` is the same for every
    frame but for that lateness, so the smallest offset over the last ``window`` frames is
    the best estimate.  A wall clock step (NTP) of more than a second starts afresh.
    """

    def __init__(self, window: int = 60) -> None:
        self.window = window
        self.step_ns = 0     # the wall clock step seen at the last call (0: none)
        self._count = 0
        self._mins: deque[tuple[int, int]] = deque()   # (frame count, offset), offsets increasing

    def __call__(self, mono_ns: int, wall_ns: int) -> int:
        offset = wall_ns - mono_ns
        mins = self._mins
        self.step_ns = 0
        if mins and abs(offset - mins[0][1]) > CLOCK_STEP_BACK_NS:
            self.step_ns = offset - mins[0][1]
            mins.clear()
        while mins and mins[-1][1] >= offset:
            mins.pop()
        mins.append((self._count, offset))
        if mins[0][0] <= self._count - self.window:
            mins.popleft()
        self._count += 1
        return mono_ns + mins[0][1]


def local_time(wall_ns: int) -> datetime:
    """Aware local time of a wall-clock instant (the process's time zone)."""
    return datetime.fromtimestamp(wall_ns / 1e9).astimezone()


@dataclass
class Segment:
    """One segment being written: where it started and where it must end."""

    rel_path: PurePosixPath      # final name, relative to the recordings root
    first_mono_ns: int
    first_wall_ns: int
    end_wall_ns: int | None      # aligned boundary (wall clock), None when not aligned

    @property
    def part_rel_path(self) -> PurePosixPath:
        return segment_name.part_path(self.rel_path)


class Segmenter:
    def __init__(self, camera: int, segment_seconds: float, align: bool, fps: float,
                 local: Callable[[int], datetime] = local_time) -> None:
        self.camera = camera
        self.segment_ns = int(segment_seconds * 1e9)
        self.align = align
        self.half_period_ns = int(5e8 / fps)
        self.local = local

    def rel_path(self, wall_ns: int) -> PurePosixPath:
        return segment_name.for_start(self.camera, self.local(wall_ns)).rel_path

    def boundary_after(self, wall_ns: int) -> int:
        """The first aligned boundary (wall ns) after ``wall_ns``, counted from local midnight."""
        offset = self.local(wall_ns).utcoffset()
        offset_ns = int(offset.total_seconds() * 1e9) if offset is not None else 0
        local_ns = wall_ns + offset_ns
        return (local_ns // self.segment_ns + 1) * self.segment_ns - offset_ns

    def begin(self, mono_ns: int, wall_ns: int) -> Segment:
        end = self.boundary_after(wall_ns) if self.align else None
        return Segment(self.rel_path(wall_ns), mono_ns, wall_ns, end)

    def starts_new(self, seg: Segment, mono_ns: int, wall_ns: int) -> bool:
        """Does a frame captured at (mono_ns, wall_ns) belong to the segment after ``seg``?"""
        elapsed = mono_ns - seg.first_mono_ns
        if seg.end_wall_ns is None:
            return elapsed >= self.segment_ns - self.half_period_ns
        if wall_ns >= seg.end_wall_ns:
            return True
        if wall_ns < seg.first_wall_ns - CLOCK_STEP_BACK_NS:
            return True  # the wall clock stepped back (NTP at boot): start afresh
        # A boundary pushed far away by a clock step: one segment plus a frame still ends it.
        return elapsed >= self.segment_ns + self.half_period_ns
