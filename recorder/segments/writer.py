"""One segment file: the encoder's H.264 packets in fragmented MP4, under a temporary name.

Fragmented MP4 (``frag_keyframe+empty_moov+default_base_moof``) puts the track header at
the start and a self-contained fragment at every keyframe and at least every
:data:`FRAGMENT_SECONDS` (keyframes may be further apart), and ``flush_packets`` hands every
fragment to the kernel at once: a kill -9 or a power cut leaves a file that plays up to its
last complete fragment, so it loses at most the second being written.  A finished file carries
its fragment index at the end, so players see its real duration and can seek.

A file is an output of the recorder's encoder (:mod:`recorder.encode.encoder`): it muxes
the packets of its frames, without encoding.  Its first frame is a keyframe, and its
timestamps are the frames' capture times counted from that frame: a camera stall shows
as a stall.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from common.archive import segment_name
from recorder.encode.encoder import Encoder, Output
from recorder.encode.settings import TIME_BASE

FRAGMENT_SECONDS = 1
MUX_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1",
               "frag_duration": str(FRAGMENT_SECONDS * 1_000_000)}   # microseconds


class SegmentFile(Output):
    """Call :meth:`Encoder.add` with it to start it at the encoder's next frame."""

    def __init__(self, part_path: Path, encoder: Encoder, comment: str) -> None:
        super().__init__()
        self.part_path = part_path
        self.frames = 0                       # packets written
        self.first_mono_ns = self.last_mono_ns = 0
        self._period = encoder.period
        part_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(part_path), "w", format="mp4", options=MUX_OPTIONS)
        except BaseException:
            if part_path.exists() and part_path.stat().st_size == 0:
                part_path.unlink()  # created, then the open failed (disk full): nothing in it
            raise
        try:
            self._container.metadata["comment"] = comment
            self._stream = self._container.add_stream_from_template(encoder.stream)
            self._stream.time_base = TIME_BASE
        except BaseException:
            self._container.close()
            raise

    def write(self, packet: av.Packet[Any], pts: int, mono_ns: int, wall_ns: int) -> None:
        if self.error is not None:
            return   # it failed: the recorder ends it
        packet.stream = self._stream
        packet.time_base = TIME_BASE
        dts = packet.dts if packet.dts is not None else pts   # an encoder's packets carry both
        packet.pts, packet.dts = pts - self.start_pts, dts - self.start_pts
        # The muxer takes sample durations from the next sample's time; only the last
        # sample's comes from here, and a nominal frame period is right for it.
        packet.duration = self._period
        try:
            self._container.mux(packet)
        except (OSError, av.FFmpegError) as exc:
            self.error = exc   # disk full, I/O error
            return
        if not self.frames:
            self.first_mono_ns = self.last_mono_ns = mono_ns
        self.frames += 1
        self.last_mono_ns = max(self.last_mono_ns, mono_ns)

    @property
    def duration_s(self) -> float:
        return (self.last_mono_ns - self.first_mono_ns) / 1e9 + self._period / TIME_BASE.denominator

    def close(self) -> None:
        """Write the trailer (the fragment index); call once :attr:`complete`."""
        self._container.close()

    def abort(self) -> None:
        """Close after an error, keeping whatever reached the file."""
        try:
            self._container.close()
        except Exception:
            pass


def free_name(final: Path) -> Path:
    """``final``, or the first free name of :func:`common.archive.segment_name.alternatives` (never overwrite).

    Taken when a segment starts within the second the previous one started in (a quick
    restart), or when a recovered file meets a newer one.
    """
    if not final.exists():
        return final
    for name in segment_name.alternatives(final.name):
        candidate = final.with_name(name)
        if not candidate.exists():
            return candidate
    raise AssertionError("unreachable: the alternatives never end")


def finalise(part: Path, final: Path) -> Path:
    """Give a temporary file its final name; returns the name it got."""
    target = free_name(final)
    os.rename(part, target)
    return target


@dataclass
class Probe:
    ok: bool
    frames: int
    duration_s: float
    error: str = ""
    disk_error: bool = False      # the read failed on the disk itself: the file may yet hold frames


def probe(path: Path) -> Probe:
    """Open a file and count its frames (demux only, no decoding): cheap, never fatal."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return Probe(False, 0, 0.0, "no video stream")
            stream = container.streams.video[0]
            frames, last = 0, None
            for packet in container.demux(stream):
                if packet.size:
                    frames += 1
                    if packet.pts is not None:
                        last = packet.pts + (packet.duration or 0)
            duration = float(last * stream.time_base) if last is not None and stream.time_base else 0.0
            return Probe(frames > 0, frames, duration, "" if frames else "no frames")
    except (av.FFmpegError, OSError, ValueError) as exc:
        return Probe(False, 0, 0.0, f"{type(exc).__name__}: {exc}", is_disk_error(exc))


def is_disk_error(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EROFS)
