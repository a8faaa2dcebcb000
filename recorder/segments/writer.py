"""One segment file: H.264 in fragmented MP4, written under a temporary name.

Fragmented MP4 (``frag_keyframe+empty_moov+default_base_moof``) puts the track header at
the start and a self-contained fragment after every keyframe (one a second), and
``flush_packets`` hands every packet to the kernel at once: a kill -9 or a power cut
leaves a file that plays up to its last complete fragment.  A finished file carries
its fragment index at the end, so players see its real duration and can seek.

Each segment gets a fresh stream and encoder, so its first frame is a keyframe.
Timestamps are the frames' capture times (CLOCK_MONOTONIC) counted from the segment's
first frame, in 1/90000 s: a camera stall shows as a stall.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import av
import numpy as np

from common.archive import segment_name
from recorder.encode.settings import TIME_BASE, EncoderSettings

MUX_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}


class SegmentWriter:
    def __init__(self, part_path: Path, settings: EncoderSettings, first_mono_ns: int, comment: str) -> None:
        self.part_path = part_path
        self.first_mono_ns = first_mono_ns
        self.last_mono_ns = first_mono_ns
        self.frames = 0
        # Called with each encoded access unit before it is written: (bytes, keyframe, capture mono_ns).
        self.on_packet: Callable[[bytes, bool, int], None] | None = None
        self._last_pts = -1
        self._period = round(TIME_BASE.denominator / settings.fps)
        part_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(part_path), "w", format="mp4", options=MUX_OPTIONS)
        except BaseException:
            if part_path.exists() and part_path.stat().st_size == 0:
                part_path.unlink()  # created, then the open failed (disk full): nothing in it
            raise
        try:
            self._container.metadata["comment"] = comment
            self._stream = self._container.add_stream(settings.codec, rate=settings.fps)
            settings.configure(self._stream)
        except BaseException:
            self._container.close()
            raise

    def _pts(self, mono_ns: int) -> int:
        pts = (mono_ns - self.first_mono_ns) * TIME_BASE.denominator // 1_000_000_000
        return max(pts, self._last_pts + 1)  # strictly increasing, whatever the clock did

    def add(self, frame: av.VideoFrame, mono_ns: int) -> None:
        """Encode one frame captured at ``mono_ns``; may raise OSError (disk full, I/O error)."""
        frame.pts = self._last_pts = self._pts(mono_ns)
        frame.time_base = TIME_BASE
        for packet in self._stream.encode(frame):
            self._mux(packet)
        self.frames += 1
        self.last_mono_ns = mono_ns

    def _mux(self, packet: av.Packet) -> None:
        # The muxer takes sample durations from the next sample's time; only the last
        # sample's comes from here, and a nominal frame period is right for it.
        packet.duration = self._period
        if self.on_packet is not None:
            self.on_packet(bytes(packet), packet.is_keyframe,
                           self.first_mono_ns + packet.pts * 1_000_000_000 // TIME_BASE.denominator)
        self._container.mux(packet)

    @property
    def extradata(self) -> bytes:
        """The encoder's parameter sets (SPS/PPS, Annex B) once it has started."""
        return self._stream.codec_context.extradata or b""

    @property
    def duration_s(self) -> float:
        return (self.last_mono_ns - self.first_mono_ns) / 1e9 + self._period / TIME_BASE.denominator

    def close(self) -> None:
        """Drain the encoder and write the trailer (the fragment index)."""
        try:
            for packet in self._stream.encode(None):
                self._mux(packet)
        finally:
            self._container.close()

    def abort(self) -> None:
        """Close after an error, keeping whatever reached the file."""
        try:
            self.close()
        except Exception:
            try:
                self._container.close()
            except Exception:
                pass


class InputFrame:
    """The encoder's input frame, allocated once and refilled from each ring frame.

    A new frame per ring frame (1.4 MB at 720p, 30 times a second) would churn the heap
    and keep the process's RSS high.  The encoders copy their input (libx264 into its own
    picture, the V4L2 encoder into its buffers), so the frame is free again as soon as
    ``encode()`` returns.
    """

    def __init__(self) -> None:
        self.frame: av.VideoFrame | None = None
        self._planes: list[np.ndarray] = []

    def fill(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
        h, w = y.shape
        if self.frame is None or (self.frame.width, self.frame.height) != (w, h):
            self.frame = av.VideoFrame(w, h, "yuv420p")
            self._planes = [np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width]
                            for p in self.frame.planes]
        for dst, src in zip(self._planes, (y, u, v)):
            np.copyto(dst, src)
        return self.frame


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
            duration = float(last * stream.time_base) if last is not None else 0.0
            return Probe(frames > 0, frames, duration, "" if frames else "no frames")
    except (av.FFmpegError, OSError, ValueError) as exc:
        return Probe(False, 0, 0.0, f"{type(exc).__name__}: {exc}")


def is_disk_error(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EROFS)
