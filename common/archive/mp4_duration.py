"""Duration of an MP4 file read from its boxes, without decoding anything.

The recorder writes fragmented MP4 (``moov`` with no samples, then ``moof``/``mdat``
pairs), where ``mvhd.duration`` is usually 0.  For those the duration is the span of the
video track's fragments: from the first ``tfdt`` decode time to the end of the last
``trun``.  Plain MP4 files give it in ``mvhd``.  Only box headers and the small ``moov``
and ``moof`` boxes are read; ``mdat`` payloads are skipped with a seek, and a finished file's
``mfra`` index leads straight to its first and last fragments.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

_MAX_META_BOX = 16 * 1024 * 1024  # a moov or moof larger than this is not ours; give up


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload_start, payload_end) for the boxes inside ``data[start:end]``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _find(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, s, e in _boxes(data, start, end):
        if k == kind:
            return s, e
    return None


def _full_box(data: bytes, start: int) -> tuple[int, int]:
    """(version, flags) of a full box whose payload starts at ``start``."""
    word = struct.unpack_from(">I", data, start)[0]
    return word >> 24, word & 0xFFFFFF


class _Movie:
    """What ``moov`` tells: time scales, the video track and per-track default durations."""

    def __init__(self) -> None:
        self.movie_timescale = 0
        self.movie_duration = 0
        self.timescales: dict[int, int] = {}  # track id -> media time scale
        self.video_track: int | None = None
        self.trex_duration: dict[int, int] = {}

    def read(self, data: bytes) -> None:
        for kind, s, e in _boxes(data):
            if kind == b"mvhd":
                version, _ = _full_box(data, s)
                if version == 1:
                    self.movie_timescale, self.movie_duration = struct.unpack_from(">IQ", data, s + 20)
                else:
                    self.movie_timescale, self.movie_duration = struct.unpack_from(">II", data, s + 12)
            elif kind == b"trak":
                self._track(data, s, e)
            elif kind == b"mvex":
                for k2, s2, _e2 in _boxes(data, s, e):
                    if k2 == b"trex":
                        track_id, _desc, duration = struct.unpack_from(">III", data, s2 + 4)
                        self.trex_duration[track_id] = duration

    def _track(self, data: bytes, s: int, e: int) -> None:
        tkhd = _find(data, s, e, b"tkhd")
        mdia = _find(data, s, e, b"mdia")
        if tkhd is None or mdia is None:
            return
        version, _ = _full_box(data, tkhd[0])
        track_id = struct.unpack_from(">I", data, tkhd[0] + (20 if version == 1 else 12))[0]
        mdhd = _find(data, mdia[0], mdia[1], b"mdhd")
        hdlr = _find(data, mdia[0], mdia[1], b"hdlr")
        if mdhd is not None:
            version, _ = _full_box(data, mdhd[0])
            scale = struct.unpack_from(">I", data, mdhd[0] + (20 if version == 1 else 12))[0]
            self.timescales[track_id] = scale
        if hdlr is not None and data[hdlr[0] + 8:hdlr[0] + 12] == b"vide" and self.video_track is None:
            self.video_track = track_id


def _fragment_span(data: bytes, movie: _Movie) -> tuple[int, int] | None:
    """(first decode time, end decode time) of the video track in one ``moof``."""
    span: tuple[int, int] | None = None
    for kind, s, e in _boxes(data):
        if kind != b"traf":
            continue
        tfhd = _find(data, s, e, b"tfhd")
        if tfhd is None:
            continue
        _, flags = _full_box(data, tfhd[0])
        track_id = struct.unpack_from(">I", data, tfhd[0] + 4)[0]
        if movie.video_track is not None and track_id != movie.video_track:
            continue
        pos = tfhd[0] + 8
        pos += 8 if flags & 0x01 else 0  # base data offset
        pos += 4 if flags & 0x02 else 0  # sample description index
        default_duration = movie.trex_duration.get(track_id, 0)
        if flags & 0x08:
            default_duration = struct.unpack_from(">I", data, pos)[0]
        base = 0
        tfdt = _find(data, s, e, b"tfdt")
        if tfdt is not None:
            version, _ = _full_box(data, tfdt[0])
            base = struct.unpack_from(">Q" if version == 1 else ">I", data, tfdt[0] + 4)[0]
        total = 0
        for k2, s2, _e2 in _boxes(data, s, e):
            if k2 == b"trun":
                total += _trun_duration(data, s2, default_duration)
        span = (base, base + total) if span is None else (min(span[0], base), max(span[1], base + total))
    return span


def _trun_duration(data: bytes, s: int, default_duration: int) -> int:
    _, flags = _full_box(data, s)
    count = struct.unpack_from(">I", data, s + 4)[0]
    pos = s + 8
    pos += 4 if flags & 0x001 else 0  # data offset
    pos += 4 if flags & 0x004 else 0  # first sample flags
    if not flags & 0x100:
        return int(count * default_duration)
    stride = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
    if pos + count * stride > len(data):
        return 0
    return sum(struct.unpack_from(">I", data, pos + i * stride)[0] for i in range(count))


def _read_box_header(fh: BinaryIO, pos: int, file_size: int) -> tuple[bytes, int, int] | None:
    """(type, header size, box size) of the top-level box at ``pos``."""
    fh.seek(pos)
    head = fh.read(16)
    if len(head) < 8:
        return None
    size, kind = struct.unpack_from(">I4s", head)
    header = 8
    if size == 1:
        if len(head) < 16:
            return None
        size = struct.unpack_from(">Q", head, 8)[0]
        header = 16
    elif size == 0:
        size = file_size - pos
    if size < header:
        return None
    return kind, header, size


def _read_moof(fh: BinaryIO, offset: int, file_size: int) -> bytes | None:
    box = _read_box_header(fh, offset, file_size)
    if box is None or box[0] != b"moof" or offset + box[2] > file_size or box[2] - box[1] > _MAX_META_BOX:
        return None
    fh.seek(offset + box[1])
    return fh.read(box[2] - box[1])


def _indexed_moofs(fh: BinaryIO, file_size: int, track: int | None) -> list[int]:
    """Offsets of the video track's fragments from the ``mfra`` index a finished file ends with."""
    if file_size < 16:
        return []
    fh.seek(file_size - 16)
    tail = fh.read(16)
    if len(tail) < 16 or tail[4:8] != b"mfro":
        return []
    size = struct.unpack_from(">I", tail, 12)[0]
    if not 16 < size <= min(file_size, _MAX_META_BOX):
        return []
    fh.seek(file_size - size)
    data = fh.read(size)
    if data[4:8] != b"mfra":
        return []
    offsets: list[int] = []
    for kind, s, _e in _boxes(data, 8):
        if kind != b"tfra":
            continue
        version, _ = _full_box(data, s)
        track_id, sizes, count = struct.unpack_from(">III", data, s + 4)
        if track is not None and track_id != track:
            continue
        extra = ((sizes >> 4) & 3) + ((sizes >> 2) & 3) + (sizes & 3) + 3  # traf, trun, sample numbers
        entry = (16 if version == 1 else 8) + extra
        pos = s + 16
        if pos + count * entry > len(data):
            return []
        fmt = ">Q" if version == 1 else ">I"
        half = 8 if version == 1 else 4
        offsets += [struct.unpack_from(fmt, data, pos + i * entry + half)[0] for i in range(count)]
    return offsets


def mp4_duration(path: str | os.PathLike[str]) -> float | None:
    """Seconds of video in the file, or None if it is not a readable MP4.

    A finished recorder segment is read in four small reads (header, index, first and last
    fragment); a file without an index (cut short by a crash) is walked box by box.
    """
    movie = _Movie()
    first: int | None = None
    last: int | None = None
    with open(path, "rb") as fh:
        file_size = os.fstat(fh.fileno()).st_size
        pos = 0
        indexed = False
        while pos < file_size:
            box = _read_box_header(fh, pos, file_size)
            if box is None:
                break
            kind, header, size = box
            if pos + size > file_size:
                break  # truncated tail (a crash mid-write): keep what was complete
            if kind == b"moof" and not indexed:
                indexed = True
                offsets = _indexed_moofs(fh, file_size, movie.video_track)
                ends = [_read_moof(fh, off, file_size) for off in (min(offsets), max(offsets))] if offsets else []
                spans = [_fragment_span(data, movie) for data in ends if data is not None]
                if len(spans) == 2 and spans[0] is not None and spans[1] is not None:
                    first, last = spans[0][0], spans[1][1]
                    break
            if kind in (b"moov", b"moof") and size - header <= _MAX_META_BOX:
                fh.seek(pos + header)
                payload = fh.read(size - header)
                if kind == b"moov":
                    movie.read(payload)
                else:
                    span = _fragment_span(payload, movie)
                    if span is not None:
                        first = span[0] if first is None else min(first, span[0])
                        last = span[1] if last is None else max(last, span[1])
            pos += size
    scale = movie.timescales.get(movie.video_track or -1, 0)
    if first is not None and last is not None and scale > 0:
        return (last - first) / scale
    if movie.movie_timescale > 0 and movie.movie_duration > 0:
        return movie.movie_duration / movie.movie_timescale
    return None
