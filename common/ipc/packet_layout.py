"""The shared-memory packet ring layout, declared once.

One POSIX shared-memory segment per camera, ``/<prefix>cam<N>_h264``, written by the
recorder with every H.264 access unit it encodes:

    +-------------------------+  offset 0
    | header (HEADER_SIZE)     |  the prefix both ring kinds share (magic, version, writer
    |                          |  pid, state, incarnation, heartbeat, last index, wake word),
    |                          |  then reserve mark, sizes, viewer demand, and from
    |                          |  EXTRADATA_AT the parameter sets (SPS/PPS, own seqlock)
    +-------------------------+  HEADER_SIZE
    | entries (ENTRY_SIZE each)|  seq (seqlock), packet index, data position, size, flags,
    |                          |  capture time (CLOCK_MONOTONIC ns), wall time (ns)
    +-------------------------+  HEADER_SIZE + entry_count * ENTRY_SIZE
    | data (data_bytes)        |  packet bytes, back to back, wrapping around
    +-------------------------+

Packets vary in size, so their bytes live in a byte ring apart from their entries.  Data
positions are absolute (they only grow); byte ``p`` is stored at ``p % data_bytes``.  Before
copying a packet the writer raises ``reserve``, the end of the bytes it is about to write:
a reader's copy of bytes from ``p`` on is intact when ``reserve - data_bytes <= p`` after it.
"""
from __future__ import annotations

import math
import struct

from common.ipc.header import header_table, run_struct
from common.ipc.segment import SegmentHeader, header_fields

MAGIC = b"SHTPKTR\x00"
VERSION = 2                      # 2: the prefix shared with the frame ring (common.ipc.header)
HEADER_SIZE = 4096
ENTRY_SIZE = 64
EXTRADATA_MAX = 2048             # SPS + PPS are tens of bytes; room for long VUI/SEI
EXTRADATA_AT = 2048              # where the parameter sets live in the header

DEFAULT_ENTRIES = 256            # 8.5 s at 30 fps (the recorder sizes its ring: entries_for)
DEFAULT_DATA_BYTES = 8 << 20     # the most data kept: several seconds even at the highest bitrate allowed
MIB = 1 << 20
DATA_STEP = 256 << 10            # the byte ring grows in these steps, from one MiB
READER_LAG_S = 2.0               # how far a reader may fall behind the newest packet and lose none

FLAG_KEY = 1

# The packet ring's own header fields, after the common prefix: name -> (offset, struct
# format).  Offsets are fixed by VERSION.
OWN_FIELDS: dict[str, tuple[int, str]] = {
    "reserve": (56, "<Q"),         # end of the bytes being written (see module notes)
    "data_bytes": (64, "<Q"),
    "entry_count": (72, "<I"),
    "entry_size": (76, "<I"),
    "width": (80, "<I"),
    "height": (84, "<I"),
    "fps_milli": (88, "<I"),       # nominal frame rate of the stream
    "too_big": (92, "<I"),         # packets refused for being larger than half the data ring
    "viewers_until_ns": (96, "<Q"),  # readers' demand: someone watches until this CLOCK_MONOTONIC time
    "extradata_seq": (104, "<Q"),  # seqlock of the parameter sets
    "extradata_len": (112, "<I"),
}
HEADER_FIELDS = header_table(OWN_FIELDS, EXTRADATA_AT)

ENTRY_FIELDS: dict[str, tuple[int, str]] = {
    "seq": (0, "<Q"),
    "index": (8, "<Q"),
    "pos": (16, "<Q"),
    "size": (24, "<I"),
    "flags": (28, "<I"),
    "mono_ns": (32, "<Q"),
    "wall_ns": (40, "<Q"),
}

# An entry's fields after seq, read and written with one struct each.
ENTRY_META_AT, ENTRY_META = run_struct(ENTRY_FIELDS, "index", "pos", "size", "flags", "mono_ns", "wall_ns")

_STRUCTS = {name: struct.Struct(fmt) for name, (_, fmt) in {**HEADER_FIELDS, **ENTRY_FIELDS}.items()}


def field_struct(name: str) -> struct.Struct:
    return _STRUCTS[name]


class Header(SegmentHeader):
    """Typed access to a mapped packet ring's header fields."""

    FIELDS = header_fields(HEADER_FIELDS, field_struct)
    MAGIC, VERSION, SIZE = MAGIC, VERSION, HEADER_SIZE


def entries_for(fps: int, gop: int) -> int:
    """Entries for a stream with a keyframe every ``gop`` frames: a reader that joins starts at
    the newest keyframe (at most a ``gop`` back), and may then lag :data:`READER_LAG_S`."""
    return max(16, gop + math.ceil(READER_LAG_S * fps))


def data_bytes_for(entries: int, fps: int, max_kbps: int, burst_s: float) -> int:
    """Packet bytes that hold ``entries`` newest packets at ``fps`` under a bitrate cap of
    ``max_kbps`` (0: no cap) that may borrow ``burst_s`` seconds of it, in :data:`DATA_STEP`
    steps from one MiB to DEFAULT_DATA_BYTES.  A written page of the ring stays in memory for
    good, so bytes past what the entries can reach would only cost memory."""
    if max_kbps <= 0:
        return DEFAULT_DATA_BYTES
    need = (entries / fps + burst_s) * max_kbps * 125
    return min(DEFAULT_DATA_BYTES, max(MIB, DATA_STEP * math.ceil(need / DATA_STEP)))


def total_size(entries: int, data_bytes: int) -> int:
    return HEADER_SIZE + entries * ENTRY_SIZE + data_bytes


def entry_offset(slot: int) -> int:
    return HEADER_SIZE + slot * ENTRY_SIZE


def data_offset(entries: int) -> int:
    return HEADER_SIZE + entries * ENTRY_SIZE
