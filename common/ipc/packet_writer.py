"""The single writer of a packet ring: the recorder of that camera.

It never waits for a reader.  Per packet: raise ``reserve`` to the end of the bytes about to
be written, copy them into the byte ring, then fill the packet's entry under its seqlock,
publish ``last_index`` and wake every waiting reader.  Memory fences keep those steps in
order for readers on other cores (:mod:`common.process.fence`).
"""
from __future__ import annotations

import os
import time

from common.ipc import packet_layout as layout
from common.ipc.header import STATE_RUNNING, STATE_STARTING
from common.ipc.owner import RingOwner
from common.ipc.segment import SegmentHeader
from common.process.fence import fence

_SEQ = layout.field_struct("seq")


class PacketWriter(RingOwner):
    """The single writer of one packet ring."""

    KIND = "packet ring"
    HEADER = layout.Header

    def __init__(self, name: str, width: int, height: int, fps: float, stale_seconds: float = 2.0,
                 entries: int = layout.DEFAULT_ENTRIES, data_bytes: int = layout.DEFAULT_DATA_BYTES) -> None:
        if entries < 4 or data_bytes < 4096:
            raise ValueError(f"packet ring of {entries} entries and {data_bytes} bytes is too small")
        self.name = name
        self.entries, self.data_bytes = entries, data_bytes
        self.stale_seconds = stale_seconds
        self.reclaimed = False
        self._index = 0
        self._pos = 0
        self._data_at = layout.data_offset(entries)
        restarts = self._open_segment(layout.total_size(entries, data_bytes))
        h = self._h
        h.put("writer_state", STATE_STARTING)
        if self.reclaimed:
            # Entries of the earlier incarnation must not match this one's indices.
            index = layout.field_struct("index")
            for slot in range(entries):
                index.pack_into(h.mm, layout.entry_offset(slot) + layout.ENTRY_META_AT, 2**64 - 1)
        else:
            h.mm[:layout.data_offset(entries)] = bytes(layout.data_offset(entries))
        demand = int(h.get("viewers_until_ns")) if self.reclaimed else 0  # viewers outlive a recorder restart
        for field, value in (("version", layout.VERSION), ("header_size", layout.HEADER_SIZE), ("entry_count", entries),
                             ("entry_size", layout.ENTRY_SIZE), ("data_bytes", data_bytes), ("writer_pid", os.getpid()),
                             ("heartbeat_ns", time.monotonic_ns()), ("last_index", -1), ("reserve", 0),
                             ("restarts", restarts), ("width", width), ("height", height),
                             ("fps_milli", int(fps * 1000)), ("too_big", 0), ("viewers_until_ns", demand),
                             ("extradata_len", 0)):
            h.put(field, value)
        h.put("magic", layout.MAGIC)
        # The incarnation changes last: readers that see it also see the fresh header.
        h.put("incarnation", (int.from_bytes(os.urandom(8), "little") >> 1) | 1)
        h.put("writer_state", STATE_RUNNING)
        self._extradata = b""

    def _same_layout(self, old: SegmentHeader) -> bool:
        return old.get("entry_count") == self.entries and old.get("data_bytes") == self.data_bytes

    # -- writing ---------------------------------------------------------------------------
    def set_extradata(self, data: bytes) -> None:
        """The stream's parameter sets (SPS/PPS, Annex B), for readers that join late."""
        if data == self._extradata:
            return
        if len(data) > layout.EXTRADATA_MAX:
            raise ValueError(f"parameter sets of {len(data)} bytes do not fit in {layout.EXTRADATA_MAX}")
        h = self._h
        seq = int(h.get("extradata_seq"))
        h.put("extradata_seq", seq + 1 if seq % 2 == 0 else seq + 2)
        fence()
        h.mm[layout.EXTRADATA_AT:layout.EXTRADATA_AT + len(data)] = data
        h.put("extradata_len", len(data))
        fence()
        h.put("extradata_seq", int(h.get("extradata_seq")) + 1)
        self._extradata = bytes(data)

    def publish(self, data: bytes, keyframe: bool, mono_ns: int, wall_ns: int) -> int:
        """Copy one access unit in and publish it; returns its index, or -1 when it is too
        large for the ring (counted in ``too_big``, and readers then see a gap)."""
        size = len(data)
        if size > self.data_bytes // 2:
            self._h.put("too_big", (int(self._h.get("too_big")) + 1) & 0xFFFFFFFF)
            return -1
        mm, pos, index = self._h.mm, self._pos, self._index
        self._h.put("reserve", pos + size)
        fence()   # readers see the reserve before the bytes it claims change
        start = pos % self.data_bytes
        first = min(size, self.data_bytes - start)
        at = self._data_at
        mm[at + start:at + start + first] = data[:first] if first < size else data
        if first < size:
            mm[at:at + size - first] = data[first:]
        base = layout.entry_offset(index % self.entries)
        seq = _SEQ.unpack_from(mm, base)[0]
        _SEQ.pack_into(mm, base, seq + 1 if seq % 2 == 0 else seq + 2)   # odd: being written
        fence()
        flags = layout.FLAG_KEY if keyframe else 0
        layout.ENTRY_META.pack_into(mm, base + layout.ENTRY_META_AT, index, pos, size, flags, mono_ns, wall_ns)
        fence()   # the bytes and the entry before seq turns even
        _SEQ.pack_into(mm, base, _SEQ.unpack_from(mm, base)[0] + 1)      # even: complete
        self._h.put("last_index", index)
        self._h.put("heartbeat_ns", time.monotonic_ns())
        self._wake_readers()
        self._pos, self._index = pos + size, index + 1
        return index

    def heartbeat(self) -> None:
        self._h.put("heartbeat_ns", time.monotonic_ns())

    def wanted(self) -> bool:
        """Does a reader ask for packets now (a live viewer is connected)?"""
        return int(self._h.get("viewers_until_ns")) > time.monotonic_ns()

    @property
    def incarnation(self) -> int:
        return int(self._h.get("incarnation"))
