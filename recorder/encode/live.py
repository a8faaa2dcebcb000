"""Publishing the recorder's own H.264 packets for low-data live view.

Every access unit the recording encoder makes goes into the camera's packet ring (one
copy, no second encode), with its capture times and the encoder's parameter sets.  While
recording is paused, or waits after a write error, the recorder goes on encoding for as
long as a live viewer asks for packets (the ring's demand word), with the same settings
and no file.
"""
from __future__ import annotations

import dataclasses
import io
import logging
import time
from typing import Callable

import av

from common.config import Config
from common.ipc.frame_reader import Frame, RingReader
from common.ipc.names import packet_ring_name
from common.ipc.packet_writer import PacketWriter
from common.ipc.segment import RingBusy
from recorder.encode.settings import TIME_BASE, EncoderSettings
from recorder.segments.writer import InputFrame, SegmentWriter

log = logging.getLogger("recorder")


class LiveFeed:
    def __init__(self, cfg: Config, camera: int, width: int, height: int) -> None:
        self.camera = camera
        self.error = ""
        self.packets: PacketWriter | None = None
        self._wall_offset_ns = 0
        self._live_only: LiveOnlyEncoder | None = None
        self._live_incarnation = 0
        try:
            self.packets = PacketWriter(packet_ring_name(cfg.ring.prefix, camera), width, height,
                                        cfg.camera.fps, cfg.ring.stale_seconds)
        except (RingBusy, OSError, ValueError) as exc:
            self.error = f"low-data live view off: {exc}"
            log.error("camera %d: %s", camera, self.error)

    # -- hooks of the recording path -------------------------------------------------------
    def attach(self, writer: SegmentWriter) -> None:
        """Publish what ``writer`` encodes (call right after opening it)."""
        if self.packets is not None:
            writer.on_packet = lambda data, key, mono: self._publish(writer, data, key, mono)

    def note(self, frame: Frame) -> None:
        """The frame about to be encoded: its wall time goes with its packet."""
        self._wall_offset_ns = frame.wall_ns - frame.mono_ns

    def _publish(self, writer: "SegmentWriter | LiveOnlyEncoder", data: bytes, keyframe: bool, mono_ns: int) -> None:
        packets = self.packets
        if packets is None:
            return
        try:
            if keyframe:
                packets.set_extradata(writer.extradata)  # the same bytes every segment: a cheap compare
            packets.publish(data, keyframe, mono_ns, mono_ns + self._wall_offset_ns)
        except (ValueError, OSError, BufferError) as exc:
            # Live view gives, recording goes on.
            self.error = f"low-data live view off: {type(exc).__name__}: {exc}"
            log.error("camera %d: %s", self.camera, self.error)
            self.packets = None
            packets.close()

    def tick(self) -> None:
        if self.packets is not None:
            self.packets.heartbeat()

    def wanted(self) -> bool:
        return self.packets is not None and self.packets.wanted()

    # -- encoding for live view only ---------------------------------------------------------
    def step_live_only(self, reader: RingReader, picture: InputFrame, settings: EncoderSettings,
                       timeout: float) -> None:
        """Encode the newest frame for live viewers only (recording is paused)."""
        try:
            self._encode_newest(reader, picture, settings, timeout)
        except (av.FFmpegError, OSError, ValueError) as exc:
            log.error("camera %d: encoding for live viewers: %s: %s", self.camera, type(exc).__name__, exc)
            self.stop_live_only()
            time.sleep(1.0)  # not a busy loop if it keeps failing

    def _encode_newest(self, reader: RingReader, picture: InputFrame, settings: EncoderSettings,
                       timeout: float) -> None:
        frame = reader.next_frame(timeout, newest=True)
        if frame is None:
            return
        pic = picture.fill(frame.y, frame.u, frame.v)
        if not frame.valid():
            return
        enc = self._live_only
        if enc is not None and frame.incarnation != self._live_incarnation:
            self.stop_live_only()
            enc = None
        if enc is None:
            h, w = frame.y.shape
            enc = self._live_only = LiveOnlyEncoder(_sized(settings, w, h), frame.mono_ns, self._publish)
            self._live_incarnation = frame.incarnation
            log.info("camera %d: encoding for live viewers while not recording", self.camera)
        self.note(frame)
        enc.add(pic, frame.mono_ns)

    def stop_live_only(self) -> None:
        enc, self._live_only = self._live_only, None
        if enc is not None:
            enc.close()

    def close(self) -> None:
        self.stop_live_only()
        if self.packets is not None:
            self.packets.close()


class _Discard(io.RawIOBase):
    """A seekable sink that keeps nothing: the container only sets the encoder up."""

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data) -> int:
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def tell(self) -> int:
        return 0


class LiveOnlyEncoder:
    """The recording encoder's settings, set up by the same MP4 container type (so the
    parameter sets travel out of band, as in recordings), but no file: packets only."""

    def __init__(self, settings: EncoderSettings, first_mono_ns: int,
                 publish: Callable[["LiveOnlyEncoder", bytes, bool, int], None]) -> None:
        self.first_mono_ns = first_mono_ns
        self._publish = publish
        self._last_pts = -1
        self._container = av.open(_Discard(), "w", format="mp4")
        try:
            self._stream = self._container.add_stream(settings.codec, rate=settings.fps)
            settings.configure(self._stream)
        except BaseException:
            self._container.close()
            raise

    @property
    def extradata(self) -> bytes:
        return self._stream.codec_context.extradata or b""

    def add(self, frame: av.VideoFrame, mono_ns: int) -> None:
        pts = max((mono_ns - self.first_mono_ns) * TIME_BASE.denominator // 1_000_000_000, self._last_pts + 1)
        frame.pts = self._last_pts = pts
        frame.time_base = TIME_BASE
        for packet in self._stream.encode(frame):
            self._publish(self, bytes(packet), packet.is_keyframe,
                          self.first_mono_ns + packet.pts * 1_000_000_000 // TIME_BASE.denominator)

    def close(self) -> None:
        try:
            self._stream.encode(None)  # drain; nothing waits for these any more
        except av.FFmpegError:
            pass
        try:
            self._container.close()
        except (av.FFmpegError, OSError):
            pass


def _sized(settings: EncoderSettings, width: int, height: int) -> EncoderSettings:
    if (settings.width, settings.height) == (width, height):
        return settings
    return dataclasses.replace(settings, width=width, height=height)
