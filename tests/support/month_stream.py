"""Both recorders' segment streams under a simulated clock: written, named and indexed the way
the recorder does it, without encoding anything.

A segment grows in its hidden ``.part`` file while it is recorded (so free space falls between
retention's checks as it does on the card), ends on the local-time boundary the recorder's
:class:`~recorder.segments.segmenter.Segmenter` gives, and is finished as the recorder's closer
finishes one: its final name (:func:`~recorder.segments.writer.finalise`, which steps aside from
a taken name, as in the hour repeated when the clocks go back), the write order of its
modification time (:func:`~recorder.retention.diskguard.keep_write_order`), a sync of its folder,
and its row handed to the recorder's :class:`~recorder.segments.indexer.Indexer`.  A wall-clock
step ends the segment at the step and names the next one by the new time, with a gap-log entry.

The files are zeros behind a small MP4 header that tells their duration (``mvhd``), so a reader
that finds a file without its row measures it as it would a real one.  Their sizes follow the
picture: more bytes in daylight than at night, more with motion, a little noise per segment.
"""
from __future__ import annotations

import os
import random
import struct
from datetime import datetime
from pathlib import Path

from common.archive.gaplog import GapLog
from common.archive.index import ArchiveIndex, Recording
from recorder.retention.diskguard import keep_write_order
from recorder.segments.indexer import Indexer
from recorder.segments.segmenter import Segment, Segmenter
from recorder.segments.syncer import Syncer
from recorder.segments.writer import finalise
from tests.support.month_ledger import Ledger, Seg

FPS = 30
FIRST_FRAME_S = 0.013     # a segment's first frame comes this long after its boundary
MOTION_FACTOR = 1.4       # a moving scene costs this much more than a still one
NIGHT_FACTOR = 0.6        # a dark, still picture compresses better than daylight
MP4_TIMESCALE = 1000
_ZEROS = bytes(1 << 20)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mp4_head(duration_s: float, size: int) -> bytes:
    """``ftyp``, a ``moov`` whose ``mvhd`` says ``duration_s``, and the header of a ``free`` box
    that fills the file up to ``size`` bytes."""
    mvhd = struct.pack(">I8xIII", 0, MP4_TIMESCALE, round(duration_s * MP4_TIMESCALE), 0x00010000)
    mvhd += struct.pack(">H10x", 0x0100) + bytes(36) + bytes(24) + struct.pack(">I", 2)
    head = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2") + _box(b"moov", _box(b"mvhd", mvhd))
    return head + struct.pack(">I4s", size - len(head), b"free")


HEAD_BYTES = len(mp4_head(0.0, 1 << 16))


def daylight(local: datetime) -> float:
    """1 in the day, :data:`NIGHT_FACTOR` at night, in between at dawn (6-8 h) and dusk (18-20 h)."""
    hour = local.hour + local.minute / 60
    if 8 <= hour <= 18:
        return 1.0
    if hour <= 6 or hour >= 20:
        return NIGHT_FACTOR
    light = (hour - 6) / 2 if hour < 12 else (20 - hour) / 2
    return NIGHT_FACTOR + (1 - NIGHT_FACTOR) * light


class SizeModel:
    """Bytes per second of a camera's stream, so that a segment without motion is
    ``mean_segment_bytes`` on average over a day."""

    def __init__(self, mean_segment_bytes: int, segment_s: float) -> None:
        day = [daylight(datetime(2000, 1, 1, m // 60, m % 60)) for m in range(0, 1440, 10)]
        self.per_s = mean_segment_bytes / segment_s / (sum(day) / len(day))

    def rate(self, local: datetime, motion: bool, noise: float) -> float:
        return self.per_s * daylight(local) * (MOTION_FACTOR if motion else 1.0) * noise


class SimClock:
    """True time (the recorders' monotonic clock, seconds since the start) and a wall clock
    that may step."""

    def __init__(self, start_wall: float) -> None:
        self.true = 0.0
        self._offset = start_wall

    def wall(self) -> float:
        return self._offset + self.true

    def step(self, seconds: float) -> None:
        self._offset += seconds


class Batch:
    """Rows of finished segments added a batch at a time, for laying an archive down fast: the
    rows the recorder's :class:`~recorder.segments.indexer.Indexer` adds (its ``finished``),
    with the file's modification time as its place in write order."""

    def __init__(self, index: ArchiveIndex) -> None:
        self.index = index
        self.rows: list[Recording] = []

    def finished(self, path: Path, camera: int, start: float, duration: float | None, size: int) -> None:
        rel = path.relative_to(self.index.root).as_posix()
        self.rows.append(Recording(rel, camera, start, duration, size, os.stat(path).st_mtime))

    def flush(self) -> None:
        if not self.index.add(self.rows):
            raise RuntimeError("the archive index did not take a batch of rows")
        self.rows = []


class SimRecorder:
    """One camera's recorder."""

    def __init__(self, root: Path, camera: int, segment_s: float, ledger: Ledger, indexer: Indexer | Batch,
                 gaplog: GapLog, rng: random.Random) -> None:
        self.root, self.camera, self.ledger = root, camera, ledger
        self.segmenter = Segmenter(camera, segment_s, True, FPS)
        self.indexer, self.gaplog, self.rng = indexer, gaplog, rng
        self.order_mtime = 0.0      # modification time of the newest finished file
        self.seg: Segment | None = None
        self.start = 0.0            # true time of the segment's first frame
        self.noise = 1.0
        self.size = 0
        self.part = root
        self._fd = -1

    def begin(self, clock: SimClock) -> None:
        self.start = clock.true + FIRST_FRAME_S
        wall_ns = round((clock.wall() + FIRST_FRAME_S) * 1e9)
        self.seg = self.segmenter.begin(round(self.start * 1e9), wall_ns)
        self.part = self.root / self.seg.part_rel_path
        self.part.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        self.noise = self.rng.uniform(0.85, 1.15)
        self.size = 0
        self.grow(HEAD_BYTES)

    def grow(self, count: int) -> None:
        """Append ``count`` bytes; OSError (disk full) as the recorder's muxer would meet it."""
        while count > 0:
            n = os.write(self._fd, _ZEROS[:min(count, len(_ZEROS))])
            self.size += n
            count -= n

    def due(self, clock: SimClock) -> bool:
        """Has the wall clock reached the segment's boundary?"""
        assert self.seg is not None and self.seg.end_wall_ns is not None
        return clock.wall() * 1e9 >= self.seg.end_wall_ns

    def finish(self, clock: SimClock) -> Seg:
        """End the segment with a frame at this instant; the next one is not begun."""
        assert self.seg is not None
        duration = clock.true + FIRST_FRAME_S - self.start
        os.pwrite(self._fd, mp4_head(duration, self.size), 0)
        os.close(self._fd)
        wall = clock.wall()
        os.utime(self.part, (wall, wall))   # last written now, by the (simulated) wall clock
        final = finalise(self.part, self.root / self.seg.rel_path)
        self.order_mtime = keep_write_order(final, self.order_mtime)
        Syncer.sync_dir(final.parent)
        size = final.stat().st_size
        first_wall = self.seg.first_wall_ns / 1e9
        self.indexer.finished(final, self.camera, first_wall, duration, size)
        self.seg = None
        return self.ledger.add(final.relative_to(self.root).as_posix(), self.camera, self.start, first_wall,
                               duration, size)

    def clock_stepped(self, clock: SimClock, step_s: float) -> Seg:
        """The wall clock just stepped by ``step_s``: end the segment and begin one named by the new time."""
        done = self.finish(clock)
        self.gaplog.add("clock step", at=clock.wall(), step_s=round(step_s, 3))
        self.begin(clock)
        return done

    def close(self) -> None:
        """Stop recording: the segment being written is left as it is, as by a kill."""
        if self._fd >= 0 and self.seg is not None:
            os.close(self._fd)
            self.seg = None
        if isinstance(self.indexer, Indexer):
            self.indexer.close()
