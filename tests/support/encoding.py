"""Recording one file the way the recorder does: its encoder, a segment file, and the
packets the packet ring would get."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np

from recorder.encode import settings as encoder
from recorder.encode.encoder import Encoder, Output
from recorder.encode.settings import EncoderSettings
from recorder.segments.writer import SegmentFile


class PacketList(Output):
    """Every packet the encoder makes: (Annex B bytes, keyframe, capture mono_ns)."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[tuple[bytes, bool, int]] = []

    def write(self, packet: av.Packet[Any], pts: int, mono_ns: int, wall_ns: int) -> None:
        self.got.append((bytes(packet), packet.is_keyframe, mono_ns))


class OneFile:
    """An encoder started at ``first_mono_ns`` with one segment file (and, with
    ``keep_packets``, a :class:`PacketList` before it, as the packet ring is)."""

    def __init__(self, path: Path, settings: EncoderSettings, first_mono_ns: int, comment: str,
                 keep_packets: bool = False) -> None:
        self.encoder = Encoder(settings, first_mono_ns)
        self.packets = PacketList()
        if keep_packets:
            self.encoder.add(self.packets, keyframe=False)
        self.file = SegmentFile(path, self.encoder, comment)
        self.encoder.add(self.file)

    @property
    def extradata(self) -> bytes:
        return self.encoder.extradata

    def add(self, frame: av.VideoFrame, mono_ns: int) -> None:
        self.encoder.encode(frame, mono_ns)
        if self.file.error is not None:
            raise self.file.error

    def close(self) -> None:
        """Drain the encoder and write the file's trailer."""
        self.encoder.close()
        self.file.close()


W, H, FPS = 1280, 720, 30   # the recorder's hd picture
PERIOD_NS = 1_000_000_000 / FPS


def picture(n: int) -> av.VideoFrame:
    """Picture ``n`` of a diagonal ramp that moves a little each frame."""
    data = np.empty((H * 3 // 2, W), np.uint8)
    ramp = (np.arange(W, dtype=np.uint16)[None, :] + np.arange(H, dtype=np.uint16)[:, None] + 4 * n)
    data[:H] = (ramp % 220 + 16).astype(np.uint8)
    data[H:] = 128
    return av.VideoFrame.from_ndarray(data, format="yuv420p")


def write(path: Path, times_ns: list[int], close: bool = True, gop: int = FPS) -> OneFile:
    """A segment file of one picture per capture time in ``times_ns``, a keyframe every ``gop``."""
    w = OneFile(path, EncoderSettings(encoder.SOFTWARE, W, H, FPS, gop), times_ns[0], "camera=0 first_index=7")
    for n, t in enumerate(times_ns):
        w.add(picture(n), t)
    if close:
        w.close()
    return w
