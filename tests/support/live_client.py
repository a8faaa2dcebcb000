"""A test client for ``/live/{camera}.mp4``: reads the fragmented MP4 box by box and
works out each fragment's capture time from its decode time and the stream's epoch."""
from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from streamer.live.h264.fmp4 import TIMESCALE


@dataclass
class Box:
    kind: bytes
    data: bytes            # the whole box, header included
    received_ns: int       # CLOCK_MONOTONIC when its last byte arrived


@dataclass
class Frag:
    decode_time: int
    keyframe: bool
    size: int              # moof + mdat bytes
    received_ns: int
    received_wall_ns: int

    def capture_wall_ms(self, epoch_ms: float) -> float:
        return epoch_ms + self.decode_time * 1000.0 / TIMESCALE

    def latency_ms(self, epoch_ms: float) -> float:
        """Capture to the fragment's last byte here (same machine: the same wall clock)."""
        return self.received_wall_ns / 1e6 - self.capture_wall_ms(epoch_ms)


def boxes(chunks: Iterator[bytes]) -> Iterator[Box]:
    buf = bytearray()
    it = iter(chunks)
    while True:
        while len(buf) < 8:
            buf += next(it)
        size = struct.unpack_from(">I", buf)[0]
        while len(buf) < size:
            buf += next(it)
        yield Box(bytes(buf[4:8]), bytes(buf[:size]), time.monotonic_ns())
        del buf[:size]


def fragment_info(moof: bytes) -> tuple[int, bool]:
    """(decode time, keyframe) of a one-sample ``moof`` as the streamer writes it."""
    tfdt = moof.find(b"tfdt")
    version = moof[tfdt + 4]
    decode_time = struct.unpack_from(">Q" if version else ">I", moof, tfdt + 8)[0]
    trun = moof.find(b"trun")
    # after flags, count, offset, duration, size
    flags = struct.unpack_from(">I", moof, trun + 4 + 4 + 4 + 4 + 4 + 4)[0]
    return decode_time, not flags & 0x00010000


def frags(chunks: Iterator[bytes]) -> Iterator[Box | Frag]:
    """Init boxes (ftyp, moov) as they are, then one Frag per moof + mdat."""
    pending: Box | None = None
    for box in boxes(chunks):
        if box.kind == b"moof":
            pending = box
        elif box.kind == b"mdat" and pending is not None:
            decode_time, key = fragment_info(pending.data)
            yield Frag(decode_time, key, len(pending.data) + len(box.data), box.received_ns, time.time_ns())
            pending = None
        else:
            yield box


def client(source: str = "127.0.0.1", timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=timeout)
