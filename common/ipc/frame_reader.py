"""Shared-memory frame ring: one writer (the camera's capture process), any readers.

Writer: never waits.  Each slot has a seqlock: the writer makes ``seq`` odd, writes the
frame, stores its metadata, makes ``seq`` even again, publishes ``last_index`` and bumps
the futex word so sleeping readers wake at once.

Reader: never blocks the writer.  It notes ``seq`` before touching a slot and checks it
again after; a change means the writer lapped it, and the frame is dropped, never handed
out torn.  Frames are zero-copy views of the slot: the bytes (``buf``), and numpy planes
made on first use (call :meth:`Frame.valid` after using them, or :meth:`Frame.copy` to keep
one).  Readers re-attach by themselves when a
writer restarts (new incarnation, or a new segment under the same name).

Memory ordering: the writer fences after making seq odd and before making it even; the
reader fences between reading seq and the slot, and between the slot and seq again (also
in :meth:`Frame.valid`), so on ARM too the seqlock sees what it would on x86
(:mod:`common.process.fence`).
"""
from __future__ import annotations

import mmap
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from common.ipc.frame_layout import HEADER_FIELDS, HEADER_SIZE, SLOT_FIELDS
from common.ipc.header import STATE_GONE, STATE_NAMES, run_struct
from common.ipc.reader import SegmentReader, wait_for_writer
from common.ipc.segment import RingError, Segment, text
from common.process.fence import fence
from common.video.i420 import FrameArrays, arrays

if TYPE_CHECKING:
    import numpy as np

# The hot path reads neighbouring fields with one unpack each: a reader wakes 30 times a
# second per ring, and every call it makes after a wake-up runs on cold caches.
_WAKE_AT, _WAKE = run_struct(HEADER_FIELDS, "wake")
_LIVE_AT, _LIVE = run_struct(HEADER_FIELDS, "writer_state", "incarnation", "heartbeat_ns", "last_index")
_SEQ_AT, _SEQ = run_struct(SLOT_FIELDS, "seq")
_META_AT, _META = run_struct(SLOT_FIELDS, "index", "mono_ns", "wall_ns")
assert _SEQ_AT == 0  # a slot's seq is read at the slot's base


@dataclass(slots=True)
class Frame:
    """One frame in a ring slot.  ``buf``, ``y``, ``u``, ``v`` and ``data`` are views of shared memory."""

    reader: RingReader
    slot: int
    seq: int
    index: int
    mono_ns: int
    wall_ns: int
    incarnation: int
    width: int
    height: int
    buf: memoryview   # the whole I420 frame, flat: Y rows, then U, then V
    views: FrameArrays | None = None   # its numpy planes, once asked for

    def valid(self) -> bool:
        """True while the writer has not started overwriting this slot."""
        return self.reader._slot_seq(self.slot, self.incarnation) == self.seq

    def copy(self) -> Frame | None:
        """A private copy, or None if the slot was overwritten while copying."""
        buf = memoryview(bytearray(self.buf))
        if not self.valid():
            return None
        return Frame(self.reader, self.slot, self.seq, self.index, self.mono_ns, self.wall_ns,
                     self.incarnation, self.width, self.height, buf, arrays(buf, self.width, self.height))

    def _arrays(self) -> FrameArrays:
        if self.views is None:
            views = self.reader._slot_arrays(self.slot, self.buf)
            self.views = views if views is not None else arrays(self.buf, self.width, self.height)
        return self.views

    @property
    def y(self) -> np.ndarray:
        return self._arrays()[0]

    @property
    def u(self) -> np.ndarray:
        return self._arrays()[1]

    @property
    def v(self) -> np.ndarray:
        return self._arrays()[2]

    @property
    def data(self) -> np.ndarray:
        """The whole I420 frame, shape (height * 3 / 2, width)."""
        return self._arrays()[3]

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


class RingReader(SegmentReader):
    """A reader of one ring that attaches, and re-attaches, by itself."""

    KIND, WRITER, HEADER = "ring", "capture", Segment

    def __init__(self, name: str, stale_seconds: float = 2.0) -> None:
        super().__init__(name, stale_seconds)
        self._map: Segment | None = None
        self._cursor = -1
        self._mm: mmap.mmap | None = None
        self._slot_bases: list[int] = []

    # -- attachment ------------------------------------------------------------------------
    def _attach(self) -> bool:
        opened = self._open()
        if opened is None:
            return False
        m, st = opened
        assert isinstance(m, Segment)
        try:
            geo = m.geometry()
            geo.validate()
            if (st.st_size < geo.total_size or m.get("header_size") != HEADER_SIZE
                    or m.get("frame_bytes") != geo.frame_bytes or m.get("slot_stride") != geo.slot_stride):
                raise RingError(f"ring {self.name}: size {st.st_size} does not match its header "
                                f"({geo.width}x{geo.height}, {geo.slot_count} slots)")
        except (RingError, ValueError, struct.error, OSError) as exc:
            m.close()
            self._refuse(str(exc))
            return False
        self._close_map()
        self._map, self.geo, self._inode = m, geo, st.st_ino
        self._mm = m.mm
        self._bufs = m.frame_buffers(geo)
        self._arrays: list[FrameArrays | None] = [None] * geo.slot_count
        self._slot_bases = [geo.slot_offset(slot) for slot in range(geo.slot_count)]
        self._wake_word, self._wake_addr = m.wake_address()
        self._incarnation = int(m.get("incarnation"))
        self._cursor = -1
        self.error = ""
        self.attach_count += 1
        return True

    def _close_map(self) -> None:
        if self._map is not None:
            self._bufs, self._arrays = [], []
            self._mm = None
            del self._wake_word
            self._map.close()
            self._map = None

    def _check(self) -> bool:
        """Attached to the current writer's segment?  Re-attach when it changed."""
        return self._poll() is not None

    def _poll(self) -> tuple[int, int] | None:
        """(wake word, last index) of the current writer's segment, re-attaching when it
        changed; None while not attached.  The word is read first, so a frame committed
        after this read also changes the word a futex wait then compares."""
        if self._map is None and not self._attach():
            return None
        mm = self._mm
        assert mm is not None  # attached
        word = _WAKE.unpack_from(mm, _WAKE_AT)[0]
        state, inc, heartbeat, last = _LIVE.unpack_from(mm, _LIVE_AT)
        if inc != self._incarnation:  # a new writer reclaimed the segment in place
            self._incarnation, self._cursor = inc, -1
            self.attach_count += 1
        if state == STATE_GONE or time.monotonic_ns() - heartbeat > self._stale_ns:
            if self._reattach.replaced(self.name, self._inode):
                # A new segment under the same name: read it (its inode check waits a while).
                return self._poll() if self._attach() else None
        return word, last

    # -- frames ----------------------------------------------------------------------------
    def _slot_seq(self, slot: int, incarnation: int) -> int:
        mm = self._mm
        if mm is None or incarnation != self._incarnation:
            return -1
        fence()   # the caller's reads of the frame are done before seq is read again
        seq: int = _SEQ.unpack_from(mm, self._slot_bases[slot])[0]
        return seq

    def _frame(self, index: int) -> Frame | None:
        # Seqlock: seq, then the metadata, then seq again; odd or changed means being written.
        mm = self._mm
        assert mm is not None  # called only while attached
        slot = index % len(self._slot_bases)
        base = self._slot_bases[slot]
        seq = _SEQ.unpack_from(mm, base)[0]
        if seq & 1:
            return None
        fence()   # seq before the metadata and the frame
        got, mono, wall = _META.unpack_from(mm, base + _META_AT)
        fence()   # the metadata before seq again
        if got != index or _SEQ.unpack_from(mm, base)[0] != seq:
            return None
        geo = self.geo
        return Frame(self, slot, seq, index, mono, wall, self._incarnation, geo.width, geo.height,
                     self._bufs[slot], self._arrays[slot])

    def _slot_arrays(self, slot: int, buf: memoryview) -> FrameArrays | None:
        """The numpy planes of ``slot``, made once per attachment; None when ``buf`` is not
        the slot's any more (the reader attached again since)."""
        if slot >= len(self._bufs) or self._bufs[slot] is not buf:
            return None
        views = self._arrays[slot]
        if views is None:
            geo = self.geo
            views = self._arrays[slot] = arrays(self._bufs[slot], geo.width, geo.height)
        return views

    def latest(self) -> Frame | None:
        """The newest complete frame, or None."""
        polled = self._poll()
        if polled is None:
            return None
        last = polled[1]
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
            polled = self._poll()
            word = None
            if polled is not None:
                word, last = polled
                cursor = self._cursor
                if last > cursor:
                    if newest or cursor < 0:
                        want = last if newest else max(0, last - len(self._slot_bases) + 2)
                    else:
                        want = max(cursor + 1, last - len(self._slot_bases) + 2)
                    frame = self._frame(want)
                    if frame is not None:
                        self._cursor = want
                        return frame
                    continue  # lapped while looking: take the next newest
            if not wait_for_writer(deadline, word, self._wake_addr, self._read_word):
                return None

    def _read_word(self) -> int:
        return self._wake_word.value

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
                          int(m.get("restarts")), text(m.get_bytes("source")), text(m.get_bytes("name")),
                          self._incarnation, last, self.geo.width, self.geo.height, int(m.get("writer_pid")))

    def close(self) -> None:
        self._close_map()
