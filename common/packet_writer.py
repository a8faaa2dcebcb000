"""The single writer of a packet ring: the recorder of that camera.

It never waits for a reader.  Per packet: raise ``reserve`` to the end of the bytes about to
be written, copy them into the byte ring, then fill the packet's entry under its seqlock,
publish ``last_index`` and wake every waiting reader.
"""
from __future__ import annotations

import ctypes
import mmap
import os
import time

import posix_ipc

from common import futex
from common.packet_layout import (DEFAULT_DATA_BYTES, DEFAULT_ENTRIES, ENTRY_META, ENTRY_META_AT, ENTRY_SIZE,
                                  EXTRADATA_AT, EXTRADATA_MAX, FLAG_KEY, HEADER_FIELDS, HEADER_SIZE, MAGIC, VERSION,
                                  data_offset, entry_offset, field_struct, total_size)
from common.pids import pid_alive
from common.ring_layout import STATE_GONE, STATE_RUNNING, STATE_STARTING
from common.ring_segment import RingBusy

_SEQ = field_struct("seq")


class Header:
    """Typed access to a mapped packet ring's header fields."""

    def __init__(self, mm: mmap.mmap) -> None:
        self.mm = mm

    def get(self, name: str) -> int | bytes:
        return field_struct(name).unpack_from(self.mm, HEADER_FIELDS[name][0])[0]

    def put(self, name: str, value: int | bytes) -> None:
        field_struct(name).pack_into(self.mm, HEADER_FIELDS[name][0], value)


class PacketWriter:
    """The single writer of one packet ring."""

    def __init__(self, name: str, width: int, height: int, fps: float, stale_seconds: float = 2.0,
                 entries: int = DEFAULT_ENTRIES, data_bytes: int = DEFAULT_DATA_BYTES) -> None:
        if entries < 4 or data_bytes < 4096:
            raise ValueError(f"packet ring of {entries} entries and {data_bytes} bytes is too small")
        self.name = name
        self.entries, self.data_bytes = entries, data_bytes
        self.stale_seconds = stale_seconds
        self.reclaimed = False
        self._index = 0
        self._pos = 0
        self._data_at = data_offset(entries)
        size = total_size(entries, data_bytes)
        restarts = 0
        try:
            shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=size)
        except posix_ipc.ExistentialError:
            shm = posix_ipc.SharedMemory(name)
            restarts, reuse = self._inspect_existing(shm, size)
            if not reuse:
                shm.close_fd()
                posix_ipc.unlink_shared_memory(name)
                shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=size)
            self.reclaimed = reuse
        self._mm = mmap.mmap(shm.fd, size)
        shm.close_fd()
        h = self._h = Header(self._mm)
        h.put("writer_state", STATE_STARTING)
        if self.reclaimed:
            # Entries of the earlier incarnation must not match this one's indices.
            for slot in range(entries):
                field_struct("index").pack_into(self._mm, entry_offset(slot) + ENTRY_META_AT, 2**64 - 1)
        else:
            self._mm[:data_offset(entries)] = bytes(data_offset(entries))
        demand = int(h.get("viewers_until_ns")) if self.reclaimed else 0  # viewers outlive a recorder restart
        for field, value in (("version", VERSION), ("header_size", HEADER_SIZE), ("entry_count", entries),
                             ("entry_size", ENTRY_SIZE), ("data_bytes", data_bytes), ("writer_pid", os.getpid()),
                             ("heartbeat_ns", time.monotonic_ns()), ("last_index", -1), ("reserve", 0),
                             ("restarts", restarts), ("width", width), ("height", height),
                             ("fps_milli", int(fps * 1000)), ("too_big", 0), ("viewers_until_ns", demand),
                             ("extradata_len", 0)):
            h.put(field, value)
        h.put("magic", MAGIC)
        # The incarnation changes last: readers that see it also see the fresh header.
        h.put("incarnation", (int.from_bytes(os.urandom(8), "little") >> 1) | 1)
        h.put("writer_state", STATE_RUNNING)
        self._wake_word = ctypes.c_uint32.from_buffer(self._mm, HEADER_FIELDS["wake"][0])
        self._wake_addr = ctypes.addressof(self._wake_word)
        self._extradata = b""

    def _inspect_existing(self, shm: posix_ipc.SharedMemory, size: int) -> tuple[int, bool]:
        """Refuse a live owner; say whether a dead writer's segment can be reused in place."""
        have = os.fstat(shm.fd).st_size
        if have < HEADER_SIZE:
            return 0, False
        mm = mmap.mmap(shm.fd, HEADER_SIZE)
        try:
            old = Header(mm)
            if old.get("magic") != MAGIC or old.get("version") != VERSION:
                return 0, False
            pid = int(old.get("writer_pid"))
            age = (time.monotonic_ns() - int(old.get("heartbeat_ns"))) / 1e9
            if (pid != os.getpid() and old.get("writer_state") != STATE_GONE and pid_alive(pid)
                    and age < self.stale_seconds):
                raise RingBusy(f"packet ring {self.name} is already written by live process {pid}")
            same = (have == size and old.get("entry_count") == self.entries
                    and old.get("data_bytes") == self.data_bytes)
            return int(old.get("restarts")) + 1, same
        finally:
            mm.close()

    # -- writing ---------------------------------------------------------------------------
    def set_extradata(self, data: bytes) -> None:
        """The stream's parameter sets (SPS/PPS, Annex B), for readers that join late."""
        if data == self._extradata:
            return
        if len(data) > EXTRADATA_MAX:
            raise ValueError(f"parameter sets of {len(data)} bytes do not fit in {EXTRADATA_MAX}")
        h = self._h
        seq = int(h.get("extradata_seq"))
        h.put("extradata_seq", seq + 1 if seq % 2 == 0 else seq + 2)
        self._mm[EXTRADATA_AT:EXTRADATA_AT + len(data)] = data
        h.put("extradata_len", len(data))
        h.put("extradata_seq", int(h.get("extradata_seq")) + 1)
        self._extradata = bytes(data)

    def publish(self, data: bytes, keyframe: bool, mono_ns: int, wall_ns: int) -> int:
        """Copy one access unit in and publish it; returns its index, or -1 when it is too
        large for the ring (counted in ``too_big``, and readers then see a gap)."""
        size = len(data)
        if size > self.data_bytes // 2:
            self._h.put("too_big", (int(self._h.get("too_big")) + 1) & 0xFFFFFFFF)
            return -1
        mm, pos, index = self._mm, self._pos, self._index
        self._h.put("reserve", pos + size)
        start = pos % self.data_bytes
        first = min(size, self.data_bytes - start)
        at = self._data_at
        mm[at + start:at + start + first] = data[:first] if first < size else data
        if first < size:
            mm[at:at + size - first] = data[first:]
        base = entry_offset(index % self.entries)
        seq = _SEQ.unpack_from(mm, base)[0]
        _SEQ.pack_into(mm, base, seq + 1 if seq % 2 == 0 else seq + 2)   # odd: being written
        ENTRY_META.pack_into(mm, base + ENTRY_META_AT, index, pos, size, FLAG_KEY if keyframe else 0,
                             mono_ns, wall_ns)
        _SEQ.pack_into(mm, base, _SEQ.unpack_from(mm, base)[0] + 1)      # even: complete
        self._h.put("last_index", index)
        self._h.put("heartbeat_ns", time.monotonic_ns())
        self._wake_word.value = (self._wake_word.value + 1) & 0xFFFFFFFF
        futex.wake_all(self._wake_addr)
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

    def close(self, unlink: bool = True) -> None:
        """Mark the writer gone (readers notice at once) and remove the segment."""
        if self._mm is None:
            return
        self._h.put("writer_state", STATE_GONE)
        self._wake_word.value = (self._wake_word.value + 1) & 0xFFFFFFFF
        futex.wake_all(self._wake_addr)
        if unlink:
            try:
                posix_ipc.unlink_shared_memory(self.name)
            except posix_ipc.ExistentialError:
                pass
        del self._wake_word
        try:
            self._mm.close()
        except BufferError:
            pass
        self._mm = None
