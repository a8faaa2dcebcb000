"""The shared-memory frame ring layout, declared once.

A ring is one POSIX shared-memory segment per camera stream, ``/<prefix>cam<N>_<stream>``:

    +-------------------------+  offset 0
    | header (HEADER_SIZE)     |  the prefix both ring kinds share (magic, version, writer
    |                          |  pid, state, incarnation, heartbeat, last committed index,
    |                          |  wake word), then geometry, source, name, statistics
    +-------------------------+  HEADER_SIZE
    | slot 0: slot header      |  seq (seqlock: odd while written), frame index,
    |         I420 payload     |  capture time (CLOCK_MONOTONIC ns), wall time (ns)
    +-------------------------+  HEADER_SIZE + slot_stride
    | slot 1 ...               |
    +-------------------------+

Frames are I420 (YUV 4:2:0 planar) with tight strides: Y is ``height x width``, U and V
are ``height/2 x width/2`` each, one after the other.  Slots are page-aligned.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from common.ipc.header import header_table

MAGIC = b"SHTRING\x00"
VERSION = 2                      # 2: the prefix shared with the packet ring (common.ipc.header)
HEADER_SIZE = 4096
SLOT_HEADER_SIZE = 64
PAGE = 4096

# The frame ring's own header fields, after the common prefix: name -> (offset, struct
# format).  Offsets are fixed by VERSION.
OWN_FIELDS: dict[str, tuple[int, str]] = {
    "width": (56, "<I"),
    "height": (60, "<I"),
    "y_stride": (64, "<I"),
    "uv_stride": (68, "<I"),
    "y_offset": (72, "<I"),        # plane offsets inside a slot's payload
    "u_offset": (76, "<I"),
    "v_offset": (80, "<I"),
    "frame_bytes": (84, "<I"),
    "slot_count": (88, "<I"),
    "slot_stride": (92, "<I"),
    "fps_nominal_milli": (96, "<I"),
    "fps_milli": (100, "<I"),      # measured by the writer over a short window
    "stat_frames": (104, "<Q"),    # frames counted for statistics; resets every STAT_RESET
    "started_wall_ns": (112, "<Q"),
    "drops": (120, "<I"),          # frames the source missed, windowed like stat_frames
    "source": (124, "16s"),        # "synthetic", "picamera2", ...
    "name": (140, "16s"),          # camera name shown in overlays and status
}
HEADER_FIELDS = header_table(OWN_FIELDS, HEADER_SIZE)

SLOT_FIELDS: dict[str, tuple[int, str]] = {
    "seq": (0, "<Q"),
    "index": (8, "<Q"),
    "mono_ns": (16, "<Q"),
    "wall_ns": (24, "<Q"),
}

STAT_RESET = 100_000  # statistics counters restart here so nothing grows without bound


_STRUCTS = {name: struct.Struct(fmt) for name, (_, fmt) in {**HEADER_FIELDS, **SLOT_FIELDS}.items()}


def field_struct(name: str) -> struct.Struct:
    return _STRUCTS[name]


@dataclass(frozen=True)
class Geometry:
    width: int
    height: int
    slot_count: int

    @property
    def y_stride(self) -> int:
        return self.width

    @property
    def uv_stride(self) -> int:
        return self.width // 2

    @property
    def y_bytes(self) -> int:
        return self.width * self.height

    @property
    def uv_bytes(self) -> int:
        return (self.width // 2) * (self.height // 2)

    @property
    def frame_bytes(self) -> int:
        return self.y_bytes + 2 * self.uv_bytes

    @property
    def u_offset(self) -> int:
        return self.y_bytes

    @property
    def v_offset(self) -> int:
        return self.y_bytes + self.uv_bytes

    @property
    def slot_stride(self) -> int:
        raw = SLOT_HEADER_SIZE + self.frame_bytes
        return (raw + PAGE - 1) // PAGE * PAGE

    @property
    def total_size(self) -> int:
        return HEADER_SIZE + self.slot_count * self.slot_stride

    def slot_offset(self, slot: int) -> int:
        return HEADER_SIZE + slot * self.slot_stride

    def payload_offset(self, slot: int) -> int:
        return self.slot_offset(slot) + SLOT_HEADER_SIZE

    def validate(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(f"frame size {self.width}x{self.height}: width and height must be even and > 0")
        if self.slot_count < 2:
            raise ValueError(f"slot count {self.slot_count}: at least 2 slots are needed")
