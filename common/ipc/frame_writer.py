"""The single writer of a ring: the capture process that owns the camera.

It never waits for a reader.  Per frame: ``begin()`` marks the next slot as being written
(seq odd) and hands out its planes, the caller fills them in place, ``commit()`` stores the
frame's metadata, makes seq even, publishes ``last_index`` and wakes every waiting reader.
A memory fence after the odd seq and before the even one keeps that order for readers on
other cores (:mod:`common.process.fence`).
"""
from __future__ import annotations

import os
import time

import numpy as np

from common.ipc.frame_layout import HEADER_SIZE, MAGIC, STAT_RESET, VERSION, Geometry
from common.ipc.header import STATE_RUNNING, STATE_STARTING
from common.ipc.owner import RingOwner
from common.ipc.segment import Segment, SegmentHeader
from common.process.fence import fence
from common.video.i420 import arrays


class RingWriter(RingOwner):
    """The single writer of one ring.  Create it in the process that owns the camera."""

    KIND = "ring"
    HEADER = Segment
    _h: Segment

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
        restarts = self._open_segment(geo.total_size)
        m = self._h
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
        self._views = [arrays(buf, geo.width, geo.height) for buf in m.frame_buffers(geo)]

    def _same_layout(self, old: SegmentHeader) -> bool:
        assert isinstance(old, Segment)
        return old.geometry() == self.geo

    # -- writing ---------------------------------------------------------------------------
    def begin(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Planes (Y, U, V) of the next slot, marked as being written.  Fill, then commit()."""
        slot = self._next_index % self.geo.slot_count
        base = self.geo.slot_offset(slot)
        seq = self._h.slot_get(base, "seq")
        self._h.slot_put(base, "seq", seq + 1 if seq % 2 == 0 else seq + 2)  # odd: being written
        fence()   # readers see seq odd before any byte of the new frame (ARM may reorder stores)
        self._writing_slot = slot
        return self._views[slot][:3]

    def commit(self, mono_ns: int, wall_ns: int) -> int:
        """Publish the slot filled since begin(); returns the frame index."""
        slot = self._writing_slot
        if slot < 0:
            raise RuntimeError("commit() without begin()")
        m, base, index = self._h, self.geo.slot_offset(slot), self._next_index
        m.slot_put(base, "index", index)
        m.slot_put(base, "mono_ns", mono_ns)
        m.slot_put(base, "wall_ns", wall_ns)
        fence()   # the frame and its metadata are seen before seq turns even
        m.slot_put(base, "seq", m.slot_get(base, "seq") + 1)  # even: complete
        m.put("last_index", index)
        m.put("heartbeat_ns", time.monotonic_ns())
        if index == 0:
            m.put("writer_state", STATE_RUNNING)
        self._stat_frames = (self._stat_frames + 1) % STAT_RESET
        m.put("stat_frames", self._stat_frames)
        self._wake_readers()
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
        self._h.put("heartbeat_ns", time.monotonic_ns())

    def set_stats(self, fps: float, drops: int) -> None:
        self._h.put("fps_milli", int(fps * 1000))
        self._h.put("drops", drops % STAT_RESET)

    @property
    def incarnation(self) -> int:
        return int(self._h.get("incarnation"))

    def close(self, unlink: bool = True) -> None:
        self._views = []  # the planes are views of the map: they would keep it open
        super().close(unlink)
