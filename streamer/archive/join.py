"""Segments joined into one MP4 by copying their H.264 packets: no decoding, no encoding.

The output is a fragmented MP4 like the segments themselves (a fragment per keyframe), made
as it is read: :func:`join` yields its bytes a fragment at a time, so a long range is never
held in memory and nothing is written to disk.

Timing.  A packet's time is its segment's true start (the archive index's) plus its time in
the file; the output counts from the first packet it keeps.  So the output's clock runs with
the wall clock: a gap between segments keeps its length (players hold the last picture over
it, and the time burned into the frames jumps), and a position in the file is a time of day.

The range.  The output starts at the keyframe at or before ``start`` (the pictures before
it cannot be decoded without it), that is at most one keyframe interval early, cut rather
than hidden with an edit list: an edit list has to be in the header, written before the
first packet is known, and players honour it unevenly in fragmented files.  When ``start``
falls in a gap, it starts at the first keyframe after it.  It ends with the last packet
decoded before ``end``.

Segments that overlap (a recovered file beside a newer one) are not written twice: a
segment's packets are taken from its first keyframe after the last picture already written.
A segment whose parameter sets differ from the first one's (an encoder started again with
other settings) gets its own in front of its first keyframe, in the stream.
"""
from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from recorder.encode.settings import TIME_BASE  # the segments' own time base
from recorder.segments.writer import MUX_OPTIONS  # and their form: a fragment per keyframe

log = logging.getLogger("streamer")

CHUNK = 256 * 1024          # bytes handed on at once (a fragment is usually less: a second of video)


@dataclass(frozen=True)
class Piece:
    """One segment file and the true time of its first frame (epoch seconds)."""

    path: Path
    start: float


@dataclass
class Joined:
    """What a join wrote, filled in as it goes."""

    first: float | None = None     # epoch seconds of the first picture written
    last: float | None = None      # ... and of the end of the last one
    frames: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)   # files that could not be read

    @property
    def duration(self) -> float:
        return 0.0 if self.first is None or self.last is None else self.last - self.first


class Sink:
    """Where the muxer (or a ZIP writer) writes: bytes kept until they are handed on."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.size += len(chunk)
        return len(chunk)

    def flush(self) -> None:
        """Nothing to flush: the bytes wait in memory for :meth:`take`."""

    def close(self) -> None:
        """Nothing to close (the writer of a ZIP may ask)."""

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts, self.size = [], 0
        return out


def parameter_sets(extradata: bytes | None) -> tuple[list[bytes], int] | None:
    """The SPS and PPS of an ``avcC`` record and its NAL length size; None for another form."""
    if not extradata or len(extradata) < 7 or extradata[0] != 1:
        return None
    units: list[bytes] = []
    pos = 5
    for mask in (0x1F, 0xFF):           # the SPS count (low 5 bits), then the PPS count
        if pos >= len(extradata):
            return None
        count, pos = extradata[pos] & mask, pos + 1
        for _ in range(count):
            size = int.from_bytes(extradata[pos:pos + 2], "big")
            unit = extradata[pos + 2:pos + 2 + size]
            if len(unit) != size or pos + 2 > len(extradata):
                return None
            units.append(unit)
            pos += 2 + size
    return units, (extradata[4] & 3) + 1


def in_band(extradata: bytes | None, length_size: int) -> bytes:
    """A segment's parameter sets as NAL units to put in front of a keyframe ("" when unreadable)."""
    found = parameter_sets(extradata)
    if found is None:
        return b""
    return b"".join(len(u).to_bytes(length_size, "big") + u for u in found[0])


class _Output:
    """The output container and the timeline every packet is put on."""

    def __init__(self, sink: Sink, template: Any, comment: str) -> None:
        self.container = av.open(sink, "w", format="mp4", options=MUX_OPTIONS)
        self.container.metadata["comment"] = comment
        self.stream = self.container.add_stream_from_template(template)
        self.stream.time_base = TIME_BASE
        self.extradata = bytes(template.codec_context.extradata or b"")
        found = parameter_sets(self.extradata)
        self.length_size = found[1] if found else 4
        self.origin: float | None = None      # epoch seconds of output time 0
        self.last_dts = -1
        self.last_pts = -1

    def ticks(self, t: float) -> int:
        assert self.origin is not None
        return round((t - self.origin) / TIME_BASE)

    def write(self, packet: Any, t_pts: float, t_dts: float, duration: int, prefix: bytes = b"") -> None:
        if prefix:
            keyed = av.Packet(prefix + bytes(packet))
            keyed.is_keyframe = True
            packet = keyed
        pts, dts = self.ticks(t_pts), self.ticks(t_dts)
        dts = max(dts, self.last_dts + 1)     # decode order stays strictly increasing across files
        pts = max(pts, dts)
        packet.stream, packet.time_base = self.stream, TIME_BASE
        packet.pts, packet.dts, packet.duration = pts, dts, duration
        self.container.mux(packet)
        self.last_dts, self.last_pts = dts, max(self.last_pts, pts)


def _open_video(path: Path) -> tuple[Any, Any] | None:
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        log.warning("export: %s cannot be read: %s", path, exc)
        return None
    if not container.streams.video:
        container.close()
        return None
    return container, container.streams.video[0]


def join(pieces: list[Piece], start: float, end: float, comment: str, joined: Joined | None = None
         ) -> Generator[bytes, None, None]:
    """The bytes of one MP4 of ``pieces`` (by start time) between ``start`` and ``end`` (epoch
    seconds), as they are made.  Yields nothing when no picture lies in the range."""
    joined = joined if joined is not None else Joined()
    sink = Sink()
    out: _Output | None = None
    preroll: list[tuple[Any, float, float, int]] = []   # the GOP up to ``start``: (packet, t_pts, t_dts, duration)
    try:
        for piece in pieces:
            opened = _open_video(piece.path)
            if opened is None:
                joined.skipped.append(piece.path.name)
                continue
            container, stream = opened
            try:
                if out is None:
                    out = _Output(sink, stream, comment)
                if out.origin is None:
                    preroll = []      # the start is not in an earlier file: it lies in a gap
                prefix = b""
                extradata = bytes(stream.codec_context.extradata or b"")
                if extradata != out.extradata:
                    prefix = in_band(extradata, out.length_size)
                tb, base, taken = stream.time_base, None, False
                for packet in container.demux(stream):
                    if packet.size == 0 or packet.pts is None:
                        continue
                    if base is None:
                        base = packet.pts     # the first packet is the segment's first picture, a keyframe
                    t_pts = piece.start + float((packet.pts - base) * tb)
                    t_dts = piece.start + float(((packet.dts if packet.dts is not None else packet.pts) - base) * tb)
                    if t_dts >= end:
                        break
                    duration = round(float((packet.duration or 0) * tb) / TIME_BASE)
                    if out.origin is None:
                        # Looking for the start: keep the GOP that holds it.
                        if packet.is_keyframe and t_pts <= start:
                            preroll = []
                        if packet.is_keyframe or preroll:
                            preroll.append((packet, t_pts, t_dts, duration))
                        if t_pts < start or not preroll:
                            continue
                        out.origin = preroll[0][1]
                        joined.first = out.origin
                        for i, (p, tp, td, d) in enumerate(preroll):
                            out.write(p, tp, td, d, prefix if i == 0 else b"")
                        joined.frames += len(preroll)
                        preroll, taken, prefix = [], True, b""
                    elif not taken:
                        # A new file: from its first keyframe after what is written already.
                        if not packet.is_keyframe or out.ticks(t_pts) <= out.last_pts:
                            continue
                        out.write(packet, t_pts, t_dts, duration, prefix)
                        joined.frames += 1
                        taken, prefix = True, b""
                    else:
                        out.write(packet, t_pts, t_dts, duration)
                        joined.frames += 1
                    joined.last = max(joined.last or t_pts, t_pts + float(duration * TIME_BASE))
                    if sink.size >= CHUNK:
                        joined.bytes += sink.size
                        yield sink.take()
            finally:
                container.close()
        if out is not None and out.origin is not None:
            out.container.close()
            out = None
            joined.bytes += sink.size
            yield sink.take()
    finally:
        if out is not None:
            try:
                out.container.close()
            except (av.FFmpegError, OSError, ValueError):
                pass   # nothing was written, or the reader went away: nothing more is sent
