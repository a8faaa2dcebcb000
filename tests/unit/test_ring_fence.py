"""The rings' memory fences stand where the seqlocks need them, so what x86 gives for free
holds on ARM too: the writer's stores and the reader's loads are seen in program order."""
from __future__ import annotations

import platform

import numpy as np
import pytest

from common.ipc import frame_reader, frame_writer, packet_reader, packet_writer
from common.ipc import packet_layout as layout
from common.ipc.frame_reader import RingReader
from common.ipc.frame_writer import RingWriter
from common.ipc.packet_reader import PacketReader
from common.ipc.packet_writer import PacketWriter
from common.process import fence


class _Logged:
    """A struct.Struct whose reads are logged under a name (the reader's order of loads)."""

    def __init__(self, inner, name: str, log: list[str]) -> None:
        self._inner, self._name, self._log = inner, name, log

    def unpack_from(self, buffer, offset=0):
        self._log.append(self._name)
        return self._inner.unpack_from(buffer, offset)

    def __getattr__(self, attr):
        return getattr(self._inner, attr)


def test_the_barrier_is_there_and_its_absence_is_reported_on_arm(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fence.AVAILABLE and fence.MECHANISM.startswith("membarrier")   # Linux >= 4.14, as on the Pi
    fence.fence()
    assert fence.unordered_risk() == ""
    monkeypatch.setattr(fence, "AVAILABLE", False)
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert "no memory barrier on aarch64" in fence.unordered_risk()
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert fence.unordered_risk() == ""   # x86 keeps the order without one


def test_frame_writer_fences_after_seq_turns_odd_and_before_it_turns_even(ring_prefix: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    writer = RingWriter(f"/{ring_prefix}fence", 64, 32, 3, 30, "test")
    try:
        base = writer.geo.slot_offset(0)
        seen: list[tuple[int, int, int]] = []   # (seq, payload byte, stored index) at each fence
        monkeypatch.setattr(frame_writer, "fence", lambda: seen.append(
            (writer._h.slot_get(base, "seq"), int(writer._views[0][0][0, 0]), writer._h.slot_get(base, "index"))))
        y, _, _ = writer.begin()
        assert seen == [(1, 0, 2**64 - 1)]      # seq odd, nothing of the frame written yet
        y.fill(7)
        writer.commit(1, 2)
        assert seen[1] == (1, 7, 0)             # frame and metadata written, seq still odd
        assert writer._h.slot_get(base, "seq") == 2
    finally:
        writer.close()


def test_frame_reader_fences_between_seq_and_the_slot_both_ways(ring_prefix: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"/{ring_prefix}fence"
    writer = RingWriter(name, 64, 32, 3, 30, "test")
    reader = RingReader(name)
    try:
        writer.publish(np.ones((32, 64), np.uint8), np.ones((16, 32), np.uint8), np.ones((16, 32), np.uint8), 1, 2)
        assert reader.latest() is not None      # attached
        log: list[str] = []
        monkeypatch.setattr(frame_reader, "_SEQ", _Logged(frame_reader._SEQ, "seq", log))
        monkeypatch.setattr(frame_reader, "_META", _Logged(frame_reader._META, "meta", log))
        monkeypatch.setattr(frame_reader, "fence", lambda: log.append("fence"))
        frame = reader.latest()
        assert frame is not None
        assert log == ["seq", "fence", "meta", "fence", "seq"]
        log.clear()
        assert frame.valid()                    # after the caller used the frame's bytes
        assert log == ["fence", "seq"]
    finally:
        reader.close()
        writer.close()


def test_packet_ring_fences_on_both_sides(ring_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"/{ring_prefix}fence_h264"
    writer = PacketWriter(name, 64, 32, 30)
    reader = PacketReader(name)
    try:
        writer.publish(b"\x00" * 100, True, 1, 2)
        assert reader.next_packet(1.0) is not None     # attached, at packet 0
        mm, base = writer._h.mm, layout.entry_offset(1)
        seq = layout.field_struct("seq")
        at = writer._data_at + 100
        seen: list[tuple[int, int, int, int]] = []     # (reserve, first data byte, entry seq, entry index)
        monkeypatch.setattr(packet_writer, "fence", lambda: seen.append(
            (int(writer._h.get("reserve")), mm[at], seq.unpack_from(mm, base)[0],
             layout.ENTRY_META.unpack_from(mm, base + layout.ENTRY_META_AT)[0])))
        writer.publish(b"\x05" * 50, False, 3, 4)
        assert seen[0][:2] == (150, 0)         # the reserve claims the bytes before they change
        assert seen[1][1:3] == (5, 1)          # bytes written, seq odd, entry not yet written
        assert seen[2][2:] == (1, 1)           # entry written, seq still odd
        log: list[str] = []
        monkeypatch.setattr(packet_reader, "_SEQ", _Logged(packet_reader._SEQ, "seq", log))
        monkeypatch.setattr(packet_reader, "ENTRY_META", _Logged(packet_reader.ENTRY_META, "meta", log))
        monkeypatch.setattr(packet_reader, "fence", lambda: log.append("fence"))
        packet = reader.next_packet(1.0)
        assert packet is not None and packet.data == b"\x05" * 50
        # The packet's own read comes last (finding the oldest intact one reads entries too).
        assert log[-7:] == ["seq", "fence", "meta", "fence", "seq", "fence", "seq"]   # the last after the bytes
    finally:
        reader.close()
        writer.close()
