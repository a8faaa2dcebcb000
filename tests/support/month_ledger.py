"""What the simulated month wrote: the truth its checks hold the product to.

Every finished segment of every camera in write order, with its true start (the recorders'
monotonic clock, which no wall-clock step or clock change moves), its wall-clock start (what
the archive index is told), duration, size, whether the motion process linked an event to it,
and whether it is still on the disk.  Running totals of the bytes on the disk and of those
that hold an event keep each check's cost independent of the archive's size.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(slots=True, eq=False)
class Seg:
    """One finished segment."""

    file: str           # cam{N}/YYMMDD/<name>, relative to the recordings root
    camera: int
    order: int          # write order over all cameras
    start: float        # true seconds since the simulation began, of the first frame
    wall: float         # epoch seconds of the first frame by the wall clock (the index's start)
    duration: float     # seconds
    size: int           # bytes
    event: bool = False
    present: bool = True

    @property
    def folder(self) -> str:
        return self.file.rsplit("/", 1)[0]

    @property
    def end(self) -> float:
        return self.start + self.duration


class Ledger:
    """``remember_s``: the newest this many seconds of each camera's recorded time stay known
    even once deleted (a check's window); older deleted ones are forgotten."""

    def __init__(self, cameras: int, remember_s: float) -> None:
        self.cameras = cameras
        self.remember_s = remember_s
        self.by_camera: list[deque[Seg]] = [deque() for _ in range(cameras)]
        self._recorded = [0.0] * cameras   # seconds of the segments each deque holds
        self.by_file: dict[str, Seg] = {}
        self.total = 0          # bytes of the segments on the disk
        self.event_bytes = 0    # of those, the ones that hold an event
        self.locked: set[str] = set()   # day folders (cam{N}/YYMMDD) the recorders' user may not change
        self.written = 0
        self.deleted = 0
        self.deleted_events = 0

    def add(self, file: str, camera: int, start: float, wall: float, duration: float, size: int) -> Seg:
        seg = Seg(file, camera, self.written, start, wall, duration, size)
        self.written += 1
        self.by_camera[camera].append(seg)
        self._recorded[camera] += duration
        self.by_file[file] = seg
        self.total += size
        return seg

    def mark_events(self, files: Iterable[str]) -> None:
        for file in files:
            seg = self.by_file.get(file)
            if seg is not None and not seg.event:
                seg.event = True
                if seg.present:
                    self.event_bytes += seg.size

    def remove(self, files: Iterable[str]) -> list[Seg]:
        """The segments ``files`` are gone from the disk; returns them (in write order)."""
        gone = []
        for file in files:
            seg = self.by_file.get(file)
            if seg is None or not seg.present:
                continue
            seg.present = False
            self.total -= seg.size
            self.deleted += 1
            if seg.event:
                self.event_bytes -= seg.size
                self.deleted_events += 1
            gone.append(seg)
        for camera, cam in enumerate(self.by_camera):   # forget what is gone at the old end: memory stays bounded
            while cam and not cam[0].present and self._recorded[camera] - cam[0].duration >= self.remember_s:
                self._recorded[camera] -= cam[0].duration
                old = cam.popleft()
                if self.by_file.get(old.file) is old:   # (a name may have been given again since)
                    del self.by_file[old.file]
        return sorted(gone, key=lambda s: s.order)

    def present(self) -> Iterator[Seg]:
        """The segments on the disk, oldest first per camera."""
        for cam in self.by_camera:
            yield from (s for s in cam if s.present)

    def present_files(self) -> set[str]:
        return {s.file for s in self.present()}

    def newest(self, camera: int) -> Seg | None:
        """The camera's newest segment on the disk."""
        return next((s for s in reversed(self.by_camera[camera]) if s.present), None)

    def deletable(self, seg: Seg) -> bool:
        """On the disk, and in a folder the recorders' user may change."""
        return seg.present and seg.folder not in self.locked

    def window(self, camera: int, seconds: float) -> list[Seg]:
        """The camera's newest ``seconds`` of recorded time, newest first: every segment written
        (on the disk or not) until their durations add up to ``seconds``."""
        out: list[Seg] = []
        total = 0.0
        for seg in reversed(self.by_camera[camera]):
            if total >= seconds:
                break
            out.append(seg)
            total += seg.duration
        return out

    def continuous(self, camera: int) -> float:
        """Seconds of recorded time, newest first, up to the first segment missing from the disk."""
        total = 0.0
        for seg in reversed(self.by_camera[camera]):
            if not seg.present:
                break
            total += seg.duration
        return total
