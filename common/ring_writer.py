"""The single writer of a ring: the capture process that owns the camera.

It never waits for a reader.  Per frame: ``begin()`` marks the next slot as being written
(seq odd) and hands out its planes, the caller fills them in place, ``commit()`` stores the
frame's metadata, makes seq even, publishes ``last_index`` and wakes every waiting reader.
"""
from __future__ import annotations

import mmap
import os
import time

import numpy as np
import posix_ipc

from common import futex
from common.pids import pid_alive
from common.ring_layout import (HEADER_SIZE, MAGIC, STAT_RESET, STATE_GONE, STATE_RUNNING, STATE_STARTING, VERSION,
                                Geometry)
from common.ring_segment import RingBusy, Segment


class RingWriter:
    """The single writer of one ring.  Create it in the process that owns the camera."""

    def __init__(self, name: str, width: int, height: int, slots: int, fps: float,
                 source: str, camera_name: str = "", stale_seconds: float = 2.0) -> None:
        self.name = name
        self.geo = Geometry(width, height, slots)
        self.geo.validate()
        self.fps = fps
        self.source = source
        self.camera_name = camera_name
        self.stale_seconds = stale_seconds
        self.reclaimed = False        # True when a crashed writer's segment was reused
        self._next_index = 0
        self._writing_slot = -1
        self._stat_frames = 0
        self._open()

    def _open(self) -> None:
        geo = self.geo
        restarts = 0
        try:
            shm = posix_ipc.SharedMemory(self.name, posix_ipc.O_CREX, mode=0o600, size=geo.total_size)
        except posix_ipc.ExistentialError:
            shm = posix_ipc.SharedMemory(self.name)
            restarts, reuse = self._inspect_existing(shm)
            if not reuse:
                # Wrong layout (another version or geometry): replace the segment.
                shm.close_fd()
                posix_ipc.unlink_shared_memory(self.name)
                shm = posix_ipc.SharedMemory(self.name, posix_ipc.O_CREX, mode=0o600, size=geo.total_size)
            else:
                self.reclaimed = True
        self._mm = mmap.mmap(shm.fd, geo.total_size)
        shm.close_fd()
        m = self._map = Segment(self._mm)
        m.put("writer_state", STATE_STARTING)
        if not self.reclaimed:
            m.mm[:HEADER_SIZE] = bytes(HEADER_SIZE)
            for slot in range(geo.slot_count):
                m.mm[geo.slot_offset(slot):geo.slot_offset(slot) + 64] = bytes(64)
        for field, value in (("version", VERSION), ("header_size", HEADER_SIZE), ("width", geo.width),
                             ("height", geo.height), ("y_stride", geo.y_stride), ("uv_stride", geo.uv_stride),
                             ("y_offset", 0), ("u_offset", geo.u_offset), ("v_offset", geo.v_offset),
                             ("frame_bytes", geo.frame_bytes), ("slot_count", geo.slot_count),
                             ("slot_stride", geo.slot_stride), ("fps_nominal_milli", int(self.fps * 1000)),
                             ("writer_pid", os.getpid()), ("heartbeat_ns", time.monotonic_ns()),
                             ("last_index", -1), ("restarts", restarts), ("fps_milli", 0), ("drops", 0),
                             ("stat_frames", 0), ("started_wall_ns", time.time_ns()),
                             ("source", self.source.encode()[:16]), ("name", self.camera_name.encode()[:16])):
            m.put(field, value)
        # Slot indices of an earlier incarnation must not match this one's.
        for slot in range(geo.slot_count):
            m.slot_put(geo.slot_offset(slot), "index", 2**64 - 1)
        m.put("magic", MAGIC)
        # The incarnation changes last: readers that see it also see the fresh header.
        # os.urandom, not secrets: importing secrets loads OpenSSL (~3.5 MB RSS in every process).
        m.put("incarnation", (int.from_bytes(os.urandom(8), "little") >> 1) | 1)
        self._wake_word, self._wake_addr = m.wake_address()
        self._views = m.plane_views(geo)

    def _inspect_existing(self, shm: posix_ipc.SharedMemory) -> tuple[int, bool]:
        """Refuse a live owner; say whether a dead writer's segment can be reused in place."""
        size = os.fstat(shm.fd).st_size
        if size < HEADER_SIZE:
            return 0, False
        mm = mmap.mmap(shm.fd, HEADER_SIZE)
        try:
            old = Segment(mm)
            if old.get("magic") != MAGIC or old.get("version") != VERSION:
                return 0, False
            pid = int(old.get("writer_pid"))
            age = (time.monotonic_ns() - int(old.get("heartbeat_ns"))) / 1e9
            if (pid != os.getpid() and old.get("writer_state") != STATE_GONE and pid_alive(pid)
                    and age < self.stale_seconds):
                raise RingBusy(f"ring {self.name} is already written by live process {pid}")
            same = (old.geometry() == self.geo and size == self.geo.total_size)
            return int(old.get("restarts")) + 1, same
        finally:
            mm.close()

    # -- writing ---------------------------------------------------------------------------
    def begin(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Planes (Y, U, V) of the next slot, marked as being written.  Fill, then commit()."""
        slot = self._next_index % self.geo.slot_count
        base = self.geo.slot_offset(slot)
        seq = self._map.slot_get(base, "seq")
        self._map.slot_put(base, "seq", seq + 1 if seq % 2 == 0 else seq + 2)  # odd: being written
        self._writing_slot = slot
        return self._views[slot][:3]

    def commit(self, mono_ns: int, wall_ns: int) -> int:
        """Publish the slot filled since begin(); returns the frame index."""
        slot = self._writing_slot
        if slot < 0:
            raise RuntimeError("commit() without begin()")
        m, base, index = self._map, self.geo.slot_offset(slot), self._next_index
        m.slot_put(base, "index", index)
        m.slot_put(base, "mono_ns", mono_ns)
        m.slot_put(base, "wall_ns", wall_ns)
        m.slot_put(base, "seq", m.slot_get(base, "seq") + 1)  # even: complete
        m.put("last_index", index)
        m.put("heartbeat_ns", time.monotonic_ns())
        if index == 0:
            m.put("writer_state", STATE_RUNNING)
        self._stat_frames = (self._stat_frames + 1) % STAT_RESET
        m.put("stat_frames", self._stat_frames)
        self._wake_word.value = (self._wake_word.value + 1) & 0xFFFFFFFF
        futex.wake_all(self._wake_addr)
        self._writing_slot = -1
        self._next_index = index + 1
        return index

    def publish(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, mono_ns: int, wall_ns: int) -> int:
        """Copy a frame in and publish it (for sources that cannot render in place)."""
        dy, du, dv = self.begin()
        np.copyto(dy, y)
        np.copyto(du, u)
        np.copyto(dv, v)
        return self.commit(mono_ns, wall_ns)

    def heartbeat(self) -> None:
        self._map.put("heartbeat_ns", time.monotonic_ns())

    def set_stats(self, fps: float, drops: int) -> None:
        self._map.put("fps_milli", int(fps * 1000))
        self._map.put("drops", drops % STAT_RESET)

    @property
    def incarnation(self) -> int:
        return int(self._map.get("incarnation"))

    def close(self, unlink: bool = True) -> None:
        """Mark the writer gone (readers notice at once) and remove the segment."""
        if self._mm is None:
            return
        self._map.put("writer_state", STATE_GONE)
        self._wake_word.value = (self._wake_word.value + 1) & 0xFFFFFFFF
        futex.wake_all(self._wake_addr)
        if unlink:
            try:
                posix_ipc.unlink_shared_memory(self.name)
            except posix_ipc.ExistentialError:
                pass
        del self._wake_word
        self._views = []
        self._map.close()
        self._mm = None
