"""The recorder's one H.264 encoder, and the outputs its packets go to.

One encoder runs for as long as frames come: a segment boundary does not restart it.  Its
packets fan out to outputs: the packet ring of the low-data live view takes every one, a
segment file takes those of its own frames.  A file's first frame is made a keyframe (an
IDR: libx264's GOPs are closed), so every segment starts with one, and the frames before
it belong to the previous file: segments are back to back.

Timestamps are capture times (CLOCK_MONOTONIC) counted from the encoder's first frame, in
1/90000 s, so a camera stall shows as a stall.  Packets come out in decode order, and may
come some frames after their frame went in (B-frames, lookahead): each goes to the outputs
whose frame range holds its pts, and an output that has ended is complete once the packet
of its last frame is out.

The encoder is the stream of an MP4 container that writes nowhere: the container sets the
encoder up as for a file (parameter sets out of band, in the stream's extradata), and each
segment file copies that stream's parameters.
"""
from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import av

from recorder.encode.settings import TIME_BASE, EncoderSettings

NS = 1_000_000_000
KEYFRAME = av.video.frame.PictureType.I
ENCODER_CHOOSES = av.video.frame.PictureType.NONE


class Output(ABC):
    """Where the packets of a range of frames go: from ``start_pts`` on, before ``end_pts``
    (None: no end yet).  An output never raises into the encoder: it keeps its error."""

    def __init__(self) -> None:
        self.start_pts = 0
        self.end_pts: int | None = None
        self.pending = 0     # its frames in the encoder whose packet has not come out yet
        self.error: BaseException | None = None

    def takes(self, pts: int) -> bool:
        return pts >= self.start_pts and (self.end_pts is None or pts < self.end_pts)

    @property
    def complete(self) -> bool:
        """Ended, and every packet it will get was written (or it failed)."""
        return self.end_pts is not None and (self.pending <= 0 or self.error is not None)

    @abstractmethod
    def write(self, packet: av.Packet[Any], pts: int, mono_ns: int, wall_ns: int) -> None:
        """One access unit (Annex B) of the frame captured at ``mono_ns``/``wall_ns``;
        ``pts`` counts from the encoder's first frame, in :data:`TIME_BASE`."""


class Encoder:
    """One H.264 encoder session; ``origin_ns`` is the capture time of pts 0 (its first frame)."""

    def __init__(self, settings: EncoderSettings, origin_ns: int) -> None:
        self.settings = settings
        self.origin_ns = origin_ns
        self.period = round(TIME_BASE.denominator / settings.fps)   # one frame, in pts
        self.outputs: list[Output] = []
        self.last_pts = -1
        self._want_key = False
        self._in_flight = 0          # frames in, less packets out
        self._wall_offset_ns = 0
        self._container = av.open(_Discard(), "w", format="mp4")
        try:
            stream = self._container.add_stream(settings.codec, rate=settings.fps)
            assert isinstance(stream, av.video.stream.VideoStream)   # settings.codec is an H.264 encoder
            self.stream = stream
            settings.configure(stream)
            self._container.start_encoding()   # opens the encoder: the stream gets its parameter sets
        except BaseException:
            self._container.close()
            raise

    @property
    def size(self) -> tuple[int, int]:
        return self.settings.width, self.settings.height

    @property
    def extradata(self) -> bytes:
        """The parameter sets (SPS/PPS, Annex B)."""
        return self.stream.codec_context.extradata or b""

    @property
    def holds_frames(self) -> bool:
        """Frames went in whose packets have not come out yet (B-frames, lookahead)."""
        return self._in_flight > 0

    def add(self, output: Output, keyframe: bool = True) -> None:
        """``output`` takes the packets of the frames from the next one on; with ``keyframe``,
        that frame is made a keyframe (a file must start with one)."""
        output.start_pts, output.end_pts, output.pending = self.last_pts + 1, None, 0
        self._want_key = self._want_key or keyframe
        self.outputs.append(output)

    def end(self, output: Output) -> None:
        """``output`` takes no frame after those given so far."""
        output.end_pts = self.last_pts + 1
        self._drop_complete()

    def encode(self, frame: av.VideoFrame, mono_ns: int, wall_ns: int | None = None) -> None:
        """Encode one frame captured at ``mono_ns`` (``wall_ns``: its wall-clock stamp)."""
        pts = max((mono_ns - self.origin_ns) * TIME_BASE.denominator // NS, self.last_pts + 1)
        frame.pts = self.last_pts = pts   # strictly increasing, whatever the clock did
        frame.time_base = TIME_BASE
        frame.pict_type = KEYFRAME if self._want_key else ENCODER_CHOOSES
        self._want_key = False
        if wall_ns is not None:
            self._wall_offset_ns = wall_ns - mono_ns
        for out in self.outputs:
            if out.takes(pts):
                out.pending += 1
        self._in_flight += 1
        self._deliver(self.stream.encode(frame))

    def _deliver(self, packets: Iterable[av.Packet[Any]]) -> None:
        for packet in packets:
            pts = packet.pts
            assert pts is not None   # an encoder's packets always carry one
            mono_ns = self.origin_ns + pts * NS // TIME_BASE.denominator
            self._in_flight -= 1
            for out in self.outputs:
                if out.takes(pts):
                    out.pending -= 1
                    out.write(packet, pts, mono_ns, mono_ns + self._wall_offset_ns)
        self._drop_complete()

    def _drop_complete(self) -> None:
        if self._in_flight <= 0:
            for out in self.outputs:
                out.pending = 0   # every frame's packet is out: none is still owed to anyone
        self.outputs = [out for out in self.outputs if not out.complete]

    def close(self) -> None:
        """Drain the encoder into its outputs, which all end; then close it."""
        try:
            self._deliver(self.stream.encode(None))
        finally:
            for out in self.outputs:
                out.end_pts = self.last_pts + 1 if out.end_pts is None else out.end_pts
                out.pending = 0   # a packet that did not come out now never will
            self.outputs = []
            try:
                self._container.close()
            except (av.FFmpegError, OSError):
                pass   # it wrote nowhere: nothing is lost


class _Discard(io.RawIOBase):
    """A seekable sink that keeps nothing: the container only sets the encoder up."""

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]  # io's Buffer type, bytes in practice
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def tell(self) -> int:
        return 0
