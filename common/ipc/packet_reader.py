"""A reader of a packet ring: takes access units in order, never blocks the writer.

Like the frame ring's reader it attaches and re-attaches by itself (new incarnation, or a
new segment under the same name), sleeps on the futex word between packets, and never
hands out a torn packet: an entry is read under its seqlock, and a packet's bytes are
checked against the writer's ``reserve`` mark after they were copied.  A reader that the
writer lapped goes on with the oldest packet still intact; the index gap shows the loss.
"""
from __future__ import annotations

import mmap
import time
from dataclasses import dataclass

from common.ipc.header import STATE_GONE, run_struct
from common.ipc.packet_layout import (
    ENTRY_META,
    ENTRY_META_AT,
    ENTRY_SIZE,
    EXTRADATA_AT,
    EXTRADATA_MAX,
    FLAG_KEY,
    HEADER_FIELDS,
    Header,
    data_offset,
    entry_offset,
    field_struct,
    total_size,
)
from common.ipc.reader import SegmentReader, wait_for_writer
from common.process.fence import fence

# The hot path reads neighbouring fields with one unpack each (see the frame ring's reader).
_SEQ = field_struct("seq")
_WAKE_AT, _WAKE = run_struct(HEADER_FIELDS, "wake")
_LIVE_AT, _LIVE = run_struct(HEADER_FIELDS, "writer_state", "incarnation", "heartbeat_ns", "last_index", "reserve")


@dataclass(frozen=True)
class Packet:
    index: int
    keyframe: bool
    mono_ns: int          # capture time of the frame (CLOCK_MONOTONIC)
    wall_ns: int          # its wall-clock time
    data: bytes           # one access unit, Annex B
    incarnation: int      # of the writer that published it


class PacketReader(SegmentReader):
    KIND, WRITER, HEADER = "packet ring", "recorder", Header

    def __init__(self, name: str, stale_seconds: float = 2.0) -> None:
        super().__init__(name, stale_seconds)
        self.torn = 0              # packets overwritten while being copied (dropped, never handed out)
        self.width = self.height = 0
        self.fps = 0.0
        self._mm: mmap.mmap | None = None
        self._h: Header | None = None
        self._cursor: int | None = None   # index of the last packet handed out; None: none yet

    # -- attachment ------------------------------------------------------------------------
    def _attach(self) -> bool:
        opened = self._open()
        if opened is None:
            return False
        h, st = opened
        assert isinstance(h, Header)
        entries, data_bytes = int(h.get("entry_count")), int(h.get("data_bytes"))
        if h.get("entry_size") != ENTRY_SIZE or entries < 4 or st.st_size < total_size(entries, data_bytes):
            h.close()
            self._refuse(f"packet ring {self.name}: size {st.st_size} does not match its header")
            return False
        self.close()
        self._mm, self._h, self._inode = h.mm, h, st.st_ino
        self._entries, self._data_bytes, self._data_at = entries, data_bytes, data_offset(entries)
        self._wake_word, self._wake_addr = h.wake_address()
        self._incarnation = 0
        self.error = ""
        self.attach_count += 1
        return True

    def _poll(self) -> tuple[int, int, int] | None:
        """(wake word, last index, reserve) of the current writer, re-attaching when it
        changed; None while not attached."""
        if self._mm is None and not self._attach():
            return None
        mm, h = self._mm, self._h
        assert mm is not None and h is not None  # attached
        word = _WAKE.unpack_from(mm, _WAKE_AT)[0]
        state, inc, heartbeat, last, reserve = _LIVE.unpack_from(mm, _LIVE_AT)
        if inc != self._incarnation:   # a new writer (or this reader's first look)
            self._incarnation, self._cursor = inc, None
            self.width, self.height = int(h.get("width")), int(h.get("height"))
            self.fps = h.get("fps_milli") / 1000.0
        if state == STATE_GONE or time.monotonic_ns() - heartbeat > self._stale_ns:
            if self._reattach.replaced(self.name, self._inode):
                return self._poll() if self._attach() else None
        return word, last, reserve

    def alive(self) -> bool:
        """Is a writer attached and showing signs of life within ``stale_seconds``?"""
        if self._poll() is None:
            return False
        mm = self._mm
        assert mm is not None  # attached: _poll() answered
        state, _, heartbeat, _, _ = _LIVE.unpack_from(mm, _LIVE_AT)
        alive: bool = state != STATE_GONE and time.monotonic_ns() - heartbeat <= self._stale_ns
        return alive

    @property
    def incarnation(self) -> int:
        return self._incarnation

    # -- packets ---------------------------------------------------------------------------
    def _entry(self, index: int) -> tuple[int, int, int, int, int, int] | None:
        """(seq, pos, size, flags, mono, wall) of packet ``index`` if its entry holds it."""
        base = entry_offset(index % self._entries)
        mm = self._mm
        assert mm is not None  # called only while attached
        seq = _SEQ.unpack_from(mm, base)[0]
        if seq & 1:
            return None
        fence()   # seq before the entry (see common.process.fence)
        got, pos, size, flags, mono, wall = ENTRY_META.unpack_from(mm, base + ENTRY_META_AT)
        fence()
        if got != index or _SEQ.unpack_from(mm, base)[0] != seq:
            return None
        return seq, pos, size, flags, mono, wall

    def _read(self, index: int) -> Packet | None:
        meta = self._entry(index)
        if meta is None:
            return None
        seq, pos, size, flags, mono, wall = meta
        mm, d, at = self._mm, self._data_bytes, self._data_at
        assert mm is not None  # called only while attached
        start = pos % d
        first = min(size, d - start)
        data = mm[at + start:at + start + first]
        if first < size:
            data += mm[at:at + size - first]
        fence()   # the bytes are copied before the reserve and seq that vouch for them are read
        # Intact only if the writer has not begun overwriting these bytes (reserve at most a
        # ring's length past them), and the entry is unchanged.  A reserve short of the
        # packet's end, or another incarnation, is a new writer reclaiming the segment: it
        # reset the reserve, so it no longer tells whether the old writer lapped this packet.
        _, inc, _, _, reserve = _LIVE.unpack_from(mm, _LIVE_AT)
        if (inc != self._incarnation or not pos + size <= reserve <= pos + d
                or _SEQ.unpack_from(mm, entry_offset(index % self._entries))[0] != seq):
            self.torn += 1
            return None
        return Packet(index, bool(flags & FLAG_KEY), mono, wall, data, self._incarnation)

    def _oldest(self, last: int, reserve: int) -> int:
        """The oldest index whose entry and bytes may still be intact."""
        lo = max(0, last - self._entries + 2)
        while lo < last:
            meta = self._entry(lo)
            if meta is not None and meta[1] >= reserve - self._data_bytes:
                break
            lo += 1
        return lo

    def newest_keyframe(self) -> int:
        """Index of the newest keyframe still in the ring, -1 when there is none."""
        polled = self._poll()
        if polled is None:
            return -1
        _, last, reserve = polled
        oldest = self._oldest(last, reserve) if last >= 0 else 0
        for index in range(last, oldest - 1, -1):
            meta = self._entry(index)
            if meta is not None and meta[3] & FLAG_KEY and meta[1] >= reserve - self._data_bytes:
                return index
        return -1

    def seek(self, index: int) -> None:
        """The next packet handed out will be ``index`` (or the oldest intact one after it)."""
        self._cursor = max(-1, index - 1)

    def next_packet(self, timeout: float) -> Packet | None:
        """Wait up to ``timeout`` s for the packet after the last one handed out.

        In order; a reader that was lapped goes on with the oldest intact packet.  The first
        packet after attaching (or after a writer restart) is the newest one, unless
        :meth:`seek` chose another start (e.g. :meth:`newest_keyframe`).  None on timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            polled = self._poll()
            word = None
            if polled is not None:
                word, last, reserve = polled
                cursor = self._cursor
                if last >= 0 and (cursor is None or last > cursor):
                    want = last if cursor is None else max(cursor + 1, self._oldest(last, reserve))
                    packet = self._read(want)
                    if packet is not None:
                        self._cursor = want
                        return packet
                    if cursor is not None and want == cursor + 1:
                        self._cursor = want  # lapped while copying: that one is lost, go on
                    continue
            if not wait_for_writer(deadline, word, self._wake_addr, self._read_word):
                return None

    def _read_word(self) -> int:
        return self._wake_word.value

    def extradata(self) -> bytes:
        """The writer's current parameter sets (Annex B), b"" when none yet."""
        if self._poll() is None:
            return b""
        mm, h = self._mm, self._h
        assert mm is not None and h is not None  # attached: _poll() answered
        for _ in range(8):
            seq = int(h.get("extradata_seq"))
            if seq & 1:
                time.sleep(0.0005)
                continue
            fence()
            size = min(int(h.get("extradata_len")), EXTRADATA_MAX)
            data = mm[EXTRADATA_AT:EXTRADATA_AT + size]
            fence()
            if int(h.get("extradata_seq")) == seq:
                return data
        return b""

    def demand(self, seconds: float) -> None:
        """Tell the writer that someone watches for the next ``seconds``."""
        if self._poll() is not None and self._h is not None:
            self._h.put("viewers_until_ns", time.monotonic_ns() + int(seconds * 1e9))

    def close(self) -> None:
        h = self._h
        if h is not None:
            del self._wake_word
            h.close()
            self._h = None
            self._mm = None
