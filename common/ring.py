"""Shared-memory frame ring: one writer (the camera's capture process), any readers.

Writer: never waits.  Each slot has a seqlock: the writer makes ``seq`` odd, writes the
frame, stores its metadata, makes ``seq`` even again, publishes ``last_index`` and bumps
the futex word so sleeping readers wake at once.

Reader: never blocks the writer.  It notes ``seq`` before touching a slot and checks it
again after; a change means the writer lapped it, and the frame is dropped, never handed
out torn.  Frames are zero-copy numpy views of the slot (call :meth:`Frame.valid` after
using them, or :meth:`Frame.copy` to keep one).  Readers re-attach by themselves when a
writer restarts (new incarnation, or a new segment under the same name).

Memory ordering: on x86 stores are seen in program order.  On the Pi's ARM cores the
hundreds of instructions the interpreter runs between two stores, and the futex syscall
after each commit, keep the seqlock's stores ordered in practice.
"""
from __future__ import annotations

import ctypes
import mmap
import os
import time
from dataclasses import dataclass

import numpy as np
import posix_ipc

from common import futex
from common.ring_layout import (HEADER_FIELDS, HEADER_SIZE, MAGIC, SLOT_FIELDS, STAT_RESET, STATE_GONE,
                                STATE_NAMES, STATE_RUNNING, STATE_STARTING, VERSION, Geometry, field_struct)

REATTACH_INTERVAL = 0.2   # how often a reader without a live writer looks for a new one
MAX_WAIT_SLICE = 0.25     # a waiting reader re-checks the writer at least this often


class RingError(Exception):
    """A segment that exists but cannot be used (wrong magic, version or size)."""


class RingBusy(Exception):
    """Another live process already writes this ring (one owner per camera)."""


def _shm_path(name: str) -> str:
    return "/dev/shm/" + name.lstrip("/")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Mapped:
    """A mapped segment with typed access to its header and slot fields."""

    def __init__(self, mm: mmap.mmap) -> None:
        self.mm = mm

    def get(self, field: str) -> int | bytes:
        return field_struct(field).unpack_from(self.mm, HEADER_FIELDS[field][0])[0]

    def put(self, field: str, value: int | bytes) -> None:
        field_struct(field).pack_into(self.mm, HEADER_FIELDS[field][0], value)

    def slot_get(self, base: int, field: str) -> int:
        return field_struct(field).unpack_from(self.mm, base + SLOT_FIELDS[field][0])[0]

    def slot_put(self, base: int, field: str, value: int) -> None:
        field_struct(field).pack_into(self.mm, base + SLOT_FIELDS[field][0], value)

    def geometry(self) -> Geometry:
        return Geometry(int(self.get("width")), int(self.get("height")), int(self.get("slot_count")))

    def plane_views(self, geo: Geometry) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per slot: Y, U, V views and the whole I420 frame as one (h*3/2, w) view."""
        views = []
        w, h = geo.width, geo.height
        for slot in range(geo.slot_count):
            base = geo.payload_offset(slot)
            # np.frombuffer holds a buffer export, so a closed map raises instead of crashing.
            y = np.frombuffer(self.mm, np.uint8, geo.y_bytes, base).reshape(h, w)
            u = np.frombuffer(self.mm, np.uint8, geo.uv_bytes, base + geo.u_offset).reshape(h // 2, w // 2)
            v = np.frombuffer(self.mm, np.uint8, geo.uv_bytes, base + geo.v_offset).reshape(h // 2, w // 2)
            whole = np.frombuffer(self.mm, np.uint8, geo.frame_bytes, base).reshape(h * 3 // 2, w)
            views.append((y, u, v, whole))
        return views

    def wake_address(self) -> tuple[ctypes.c_uint32, int]:
        word = ctypes.c_uint32.from_buffer(self.mm, HEADER_FIELDS["wake"][0])
        return word, ctypes.addressof(word)

    def close(self) -> None:
        try:
            self.mm.close()
        except BufferError:
            pass  # a caller still holds a frame view; the map goes when the last view does


def _text(value: bytes) -> str:
    return value.rstrip(b"\x00").decode("utf-8", "replace")


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
        m = self._map = _Mapped(self._mm)
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
            old = _Mapped(mm)
            if old.get("magic") != MAGIC or old.get("version") != VERSION:
                return 0, False
            pid = int(old.get("writer_pid"))
            age = (time.monotonic_ns() - int(old.get("heartbeat_ns"))) / 1e9
            if (pid != os.getpid() and old.get("writer_state") != STATE_GONE and _pid_alive(pid)
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


@dataclass
class Frame:
    """One frame in a ring slot.  ``y``, ``u``, ``v`` are views of shared memory."""

    reader: "RingReader"
    slot: int
    seq: int
    index: int
    mono_ns: int
    wall_ns: int
    incarnation: int
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    data: np.ndarray  # the whole I420 frame, shape (height * 3 / 2, width): Y rows, then U, then V

    def valid(self) -> bool:
        """True while the writer has not started overwriting this slot."""
        return self.reader._slot_seq(self.slot, self.incarnation) == self.seq

    def copy(self) -> "Frame | None":
        """A private copy, or None if the slot was overwritten while copying."""
        data = self.data.copy()
        if not self.valid():
            return None
        h, w = self.y.shape
        y = data[:h]
        u = data[h:h + h // 4].reshape(h // 2, w // 2)
        v = data[h + h // 4:].reshape(h // 2, w // 2)
        return Frame(self.reader, self.slot, self.seq, self.index, self.mono_ns, self.wall_ns,
                     self.incarnation, y, u, v, data)

    @property
    def age_s(self) -> float:
        return (time.monotonic_ns() - self.mono_ns) / 1e9


@dataclass
class RingStatus:
    name: str
    attached: bool
    error: str
    writer_state: str
    writer_alive: bool
    frame_age_s: float | None
    fps: float
    frames: int
    drops: int
    restarts: int
    source: str
    camera_name: str
    incarnation: int
    last_index: int
    width: int
    height: int
    writer_pid: int

    def live(self, max_age_s: float = 1.0) -> bool:
        return self.writer_alive and self.frame_age_s is not None and self.frame_age_s < max_age_s


class RingReader:
    """A reader of one ring that attaches, and re-attaches, by itself."""

    def __init__(self, name: str, stale_seconds: float = 2.0) -> None:
        self.name = name
        self.stale_seconds = stale_seconds
        self.error = ""                # why the ring is not usable, for status and logs
        self.attach_count = 0          # how many times a segment was (re)attached
        self._map: _Mapped | None = None
        self._inode = -1
        self._incarnation = 0
        self._cursor = -1
        self._last_try = 0.0
        self._last_inode_check = 0.0

    # -- attachment ------------------------------------------------------------------------
    def _attach(self) -> bool:
        now = time.monotonic()
        if now - self._last_try < REATTACH_INTERVAL:
            return False
        self._last_try = now
        try:
            shm = posix_ipc.SharedMemory(self.name)
        except posix_ipc.ExistentialError:
            self.error = f"ring {self.name}: no such segment (capture not running)"
            return False
        try:
            st = os.fstat(shm.fd)
            if st.st_size < HEADER_SIZE:
                raise RingError(f"ring {self.name}: segment of {st.st_size} bytes is too small for a header")
            mm = mmap.mmap(shm.fd, st.st_size)
        finally:
            shm.close_fd()
        m = _Mapped(mm)
        try:
            magic, version = m.get("magic"), m.get("version")
            if magic != MAGIC:
                if magic == bytes(8):
                    raise RingError(f"ring {self.name}: writer is still initialising")
                raise RingError(f"ring {self.name}: wrong magic {magic!r} (expected {MAGIC!r})")
            if version != VERSION:
                raise RingError(f"ring {self.name}: layout version {version} (this reader knows {VERSION})")
            geo = m.geometry()
            geo.validate()
            if (st.st_size < geo.total_size or m.get("header_size") != HEADER_SIZE
                    or m.get("frame_bytes") != geo.frame_bytes or m.get("slot_stride") != geo.slot_stride):
                raise RingError(f"ring {self.name}: size {st.st_size} does not match its header "
                                f"({geo.width}x{geo.height}, {geo.slot_count} slots)")
        except (RingError, ValueError) as exc:
            m.close()
            self.error = str(exc)
            return False
        self._close_map()
        self._map, self.geo, self._inode = m, geo, st.st_ino
        self._views = m.plane_views(geo)
        self._wake_word, self._wake_addr = m.wake_address()
        self._incarnation = int(m.get("incarnation"))
        self._cursor = -1
        self.error = ""
        self.attach_count += 1
        return True

    def _close_map(self) -> None:
        if self._map is not None:
            self._views = []
            del self._wake_word
            self._map.close()
            self._map = None

    def _check(self) -> bool:
        """Attached to the current writer's segment?  Re-attach when it changed."""
        if self._map is None:
            return self._attach()
        m = self._map
        inc = int(m.get("incarnation"))
        if inc != self._incarnation:  # a new writer reclaimed the segment in place
            self._incarnation, self._cursor = inc, -1
            self.attach_count += 1
        stale = (m.get("writer_state") == STATE_GONE
                 or time.monotonic_ns() - int(m.get("heartbeat_ns")) > self.stale_seconds * 1e9)
        if stale:
            now = time.monotonic()
            if now - self._last_inode_check >= REATTACH_INTERVAL:
                self._last_inode_check = now
                try:
                    ino = os.stat(_shm_path(self.name)).st_ino
                except FileNotFoundError:
                    ino = -1
                if ino != self._inode and ino != -1:
                    self._last_try = 0.0
                    return self._attach()
        return True

    # -- frames ----------------------------------------------------------------------------
    def _slot_seq(self, slot: int, incarnation: int) -> int:
        m = self._map
        if m is None or incarnation != self._incarnation:
            return -1
        return m.slot_get(self.geo.slot_offset(slot), "seq")

    def _frame(self, index: int) -> Frame | None:
        m, geo = self._map, self.geo
        slot = index % geo.slot_count
        base = geo.slot_offset(slot)
        seq = m.slot_get(base, "seq")
        if seq % 2 or m.slot_get(base, "index") != index:
            return None
        mono, wall = m.slot_get(base, "mono_ns"), m.slot_get(base, "wall_ns")
        if m.slot_get(base, "seq") != seq:
            return None
        y, u, v, whole = self._views[slot]
        return Frame(self, slot, seq, index, mono, wall, self._incarnation, y, u, v, whole)

    def latest(self) -> Frame | None:
        """The newest complete frame, or None."""
        if not self._check():
            return None
        last = int(self._map.get("last_index"))
        return self._frame(last) if last >= 0 else None

    def next_frame(self, timeout: float, newest: bool = True) -> Frame | None:
        """Wait up to ``timeout`` s for a frame after the last one this reader returned.

        ``newest=True`` (live view): the newest frame, skipping any missed.
        ``newest=False`` (recording): the next frame in order; when it was already
        overwritten, the oldest one still in the ring (the index gap shows the loss).
        A new writer incarnation restarts the cursor.  None on timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self._check():
                m = self._map
                word = self._wake_word.value
                last = int(m.get("last_index"))
                if last > self._cursor:
                    if newest or self._cursor < 0:
                        want = last if newest else max(0, last - self.geo.slot_count + 2)
                    else:
                        want = max(self._cursor + 1, last - self.geo.slot_count + 2)
                    frame = self._frame(want)
                    if frame is not None:
                        self._cursor = want
                        return frame
                    continue  # lapped while looking: take the next newest
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                futex.wait(self._wake_addr, word, min(remaining, MAX_WAIT_SLICE),
                           lambda: self._wake_word.value)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                time.sleep(min(remaining, REATTACH_INTERVAL / 2))

    def status(self) -> RingStatus:
        attached = self._check()
        if not attached or self._map is None:
            return RingStatus(self.name, False, self.error, "absent", False, None, 0.0, 0, 0, 0, "", "", 0,
                              -1, 0, 0, 0)
        m = self._map
        now = time.monotonic_ns()
        state = int(m.get("writer_state"))
        heartbeat_age = (now - int(m.get("heartbeat_ns"))) / 1e9
        last = int(m.get("last_index"))
        age = None
        if last >= 0:
            mono = m.slot_get(self.geo.slot_offset(last % self.geo.slot_count), "mono_ns")
            age = max(0.0, (now - mono) / 1e9)
        alive = state != STATE_GONE and heartbeat_age < self.stale_seconds
        return RingStatus(self.name, True, self.error, STATE_NAMES.get(state, str(state)), alive, age,
                          m.get("fps_milli") / 1000.0, int(m.get("stat_frames")), int(m.get("drops")),
                          int(m.get("restarts")), _text(m.get("source")), _text(m.get("name")),
                          self._incarnation, last, self.geo.width, self.geo.height, int(m.get("writer_pid")))

    def close(self) -> None:
        self._close_map()
