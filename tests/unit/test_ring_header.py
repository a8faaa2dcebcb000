"""The header prefix both ring kinds share: the same fields at the same offsets in both, and a
reader of one kind (or of another version) that meets a segment it cannot read treats it as
no writer yet, without crashing."""
from __future__ import annotations

import itertools
import os
import struct

import posix_ipc
import pytest

from common.ipc import frame_layout, packet_layout
from common.ipc.frame_reader import RingReader
from common.ipc.frame_writer import RingWriter
from common.ipc.header import COMMON_FIELDS, PREFIX_SIZE, header_table, run_struct
from common.ipc.packet_reader import PacketReader
from common.ipc.packet_writer import PacketWriter

KINDS = {"frame": frame_layout, "packet": packet_layout}


def _span(field: tuple[int, str]) -> range:
    at, fmt = field
    return range(at, at + struct.calcsize(fmt))


def test_shared_fields_have_the_same_offsets_and_formats_in_both_kinds() -> None:
    for layout in KINDS.values():
        assert {name: layout.HEADER_FIELDS[name] for name in COMMON_FIELDS} == COMMON_FIELDS
        assert layout.HEADER_FIELDS["magic"] == (0, "8s") and layout.HEADER_FIELDS["version"] == (8, "<I")
    assert max(_span(f).stop for f in COMMON_FIELDS.values()) == PREFIX_SIZE
    assert frame_layout.MAGIC != packet_layout.MAGIC


@pytest.mark.parametrize("kind", KINDS)
def test_own_fields_follow_the_prefix_without_overlap(kind: str) -> None:
    layout = KINDS[kind]
    own = sorted((_span(f) for name, f in layout.HEADER_FIELDS.items() if name not in COMMON_FIELDS),
                 key=lambda r: r.start)
    assert own and own[0].start >= PREFIX_SIZE
    assert all(a.stop <= b.start for a, b in itertools.pairwise(own))
    assert own[-1].stop <= layout.HEADER_SIZE


def test_a_layout_cannot_redeclare_or_overlap_the_prefix() -> None:
    with pytest.raises(ValueError, match="common prefix"):
        header_table({"wake": (60, "<I")}, 4096)
    with pytest.raises(ValueError, match="outside"):
        header_table({"extra": (PREFIX_SIZE - 4, "<I")}, 4096)
    with pytest.raises(ValueError, match="overlaps 'a'"):
        header_table({"a": (64, "<Q"), "b": (68, "<I")}, 4096)
    with pytest.raises(ValueError, match="outside"):
        header_table({"a": (4094, "<I")}, 4096)


def test_a_combined_read_refuses_fields_that_are_not_neighbours() -> None:
    at, combined = run_struct(COMMON_FIELDS, "writer_state", "incarnation", "heartbeat_ns")
    assert (at, combined.format, combined.size) == (28, "<IQQ", 20)
    with pytest.raises(ValueError, match="'last_index' is at 48, not right after"):
        run_struct(COMMON_FIELDS, "incarnation", "last_index")


# -- segments a reader cannot read ----------------------------------------------------------
@pytest.fixture
def name(ring_prefix: str) -> str:
    return f"/{ring_prefix}other"


def _frame_reader_refuses(name: str, why: str) -> None:
    reader = RingReader(name, stale_seconds=1.0)
    try:
        for _ in range(2):
            st = reader.status()
            assert not st.attached and not st.writer_alive
            assert reader.next_frame(0.25) is None and reader.latest() is None
        assert why in reader.error and name in reader.error
    finally:
        reader.close()


def _packet_reader_refuses(name: str, why: str) -> None:
    reader = PacketReader(name, stale_seconds=1.0)
    try:
        for _ in range(2):
            assert not reader.alive()
            assert reader.next_packet(0.25) is None
            assert reader.newest_keyframe() == -1 and reader.extradata() == b""
        assert why in reader.error and name in reader.error
    finally:
        reader.close()


def test_frame_reader_refuses_a_packet_ring(name: str) -> None:
    writer = PacketWriter(name, 64, 48, 30, entries=8, data_bytes=1 << 16)
    try:
        writer.publish(b"\x00\x00\x00\x01\x65", True, 1, 2)
        _frame_reader_refuses(name, f"wrong magic {packet_layout.MAGIC!r}")
    finally:
        writer.close()


def test_packet_reader_refuses_a_frame_ring(name: str) -> None:
    writer = RingWriter(name, 64, 48, 4, 30, "test")
    try:
        writer.begin()
        writer.commit(1, 2)
        _packet_reader_refuses(name, f"wrong magic {frame_layout.MAGIC!r}")
    finally:
        writer.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_segment_of_the_previous_layout_version_is_no_writer_yet(name: str, kind: str) -> None:
    layout = KINDS[kind]
    header = bytearray(layout.HEADER_SIZE)
    header[:8] = layout.MAGIC                   # magic and version sit at 0 and 8 in every version
    struct.pack_into("<I", header, 8, layout.VERSION - 1)
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=1 << 20)
    os.pwrite(shm.fd, bytes(header), 0)
    shm.close_fd()
    refuses = _frame_reader_refuses if kind == "frame" else _packet_reader_refuses
    refuses(name, f"layout version {layout.VERSION - 1} (this reader knows {layout.VERSION})")
