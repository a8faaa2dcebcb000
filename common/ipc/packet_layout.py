"""The shared-memory packet ring layout, declared once.

One POSIX shared-memory segment per camera, ``/<prefix>cam<N>_h264``, written by the
recorder with every H.264 access unit it encodes:

    +-------------------------+  offset 0
    | header (HEADER_SIZE)     |  magic, version, sizes, writer pid, incarnation, heartbeat,
    |                          |  last index, wake word, reserve mark, viewer demand,
    |                          |  parameter sets (SPS/PPS, own seqlock)
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

import struct

MAGIC = b"SHTPKTR\x00"
VERSION = 1
HEADER_SIZE = 4096
ENTRY_SIZE = 64
EXTRADATA_MAX = 2048             # SPS + PPS are tens of bytes; room for long VUI/SEI
EXTRADATA_AT = 2048              # where the parameter sets live in the header

DEFAULT_ENTRIES = 256            # 8.5 s at 30 fps
DEFAULT_DATA_BYTES = 8 << 20     # several seconds even at the highest bitrate allowed

FLAG_KEY = 1

HEADER_FIELDS: dict[str, tuple[int, str]] = {
    "magic": (0, "8s"),
    "version": (8, "<I"),
    "header_size": (12, "<I"),
    "entry_count": (16, "<I"),
    "entry_size": (20, "<I"),
    "data_bytes": (24, "<Q"),
    "writer_pid": (32, "<I"),
    "writer_state": (36, "<I"),    # the frame ring's STATE_* values
    "incarnation": (40, "<Q"),     # random per writer start: readers start over when it changes
    "heartbeat_ns": (48, "<Q"),    # CLOCK_MONOTONIC of the writer's last sign of life
    "last_index": (56, "<q"),      # newest committed packet, -1 before the first
    "reserve": (64, "<Q"),         # end of the bytes being written (see module notes)
    "wake": (72, "<I"),            # futex word, bumped after every commit
    "restarts": (76, "<I"),
    "width": (80, "<I"),
    "height": (84, "<I"),
    "fps_milli": (88, "<I"),       # nominal frame rate of the stream
    "too_big": (92, "<I"),         # packets refused for being larger than half the data ring
    "viewers_until_ns": (96, "<Q"),  # readers' demand: someone watches until this CLOCK_MONOTONIC time
    "extradata_seq": (104, "<Q"),  # seqlock of the parameter sets
    "extradata_len": (112, "<I"),
}

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
ENTRY_META_AT = 8
ENTRY_META = struct.Struct("<QQIIQQ")   # index, pos, size, flags, mono_ns, wall_ns
assert [ENTRY_FIELDS[f][0] for f in ("index", "pos", "size", "flags", "mono_ns", "wall_ns")] == [8, 16, 24, 28, 32, 40]

_STRUCTS = {name: struct.Struct(fmt) for name, (_, fmt) in {**HEADER_FIELDS, **ENTRY_FIELDS}.items()}


def field_struct(name: str) -> struct.Struct:
    return _STRUCTS[name]


def total_size(entries: int, data_bytes: int) -> int:
    return HEADER_SIZE + entries * ENTRY_SIZE + data_bytes


def entry_offset(slot: int) -> int:
    return HEADER_SIZE + slot * ENTRY_SIZE


def data_offset(entries: int) -> int:
    return HEADER_SIZE + entries * ENTRY_SIZE
