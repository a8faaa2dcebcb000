"""Keyed records of numbers in a table of fixed size that every process maps: shared counters.

A table holds ``records`` records of ``width`` float64 values, each filed under a digest
of its key, in one file in shared memory (``/dev/shm``: counters need not outlive a
reboot, and an SD card should not be rewritten on every request).  Every process maps the
same file, so the workers of one server keep one count; the size is fixed when the file
is made, so nothing a client sends can grow it.  Changes are made under ``flock`` on the
file (the kernel drops the lock of a killed holder).

A key may sit in any of GROUP neighbouring records after its hash.  When all of them are
taken, the owner's ``rank`` of their values picks the one that gives way, the lowest; a
rank of 0 or less marks a record as free, and ``inf`` one that never gives way.  When all
GROUP records rank ``inf``, the new key gets no record and the owner decides what that
means.  Keys are digested with a secret kept in the file's header, so a client cannot aim
many keys at one group.  A process killed while writing can leave one record half
written: ``rank`` must treat values out of their range as free.

A private table (no file) works the same in this process's memory alone.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import mmap
import os
import stat
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("state")

MAGIC = b"SHTSLOT1"
HEADER = struct.Struct("<8sII16s")      # magic, records, width, secret
HEADER_BYTES = 64
DIGEST_BYTES = 16
GROUP = 8
EMPTY = bytes(DIGEST_BYTES)

Values = tuple[float, ...]
Rank = Callable[[Values], float]


class Slots:
    """A table while its lock is held: look keys up, store and drop them."""

    def __init__(self, mem: mmap.mmap, secret: bytes, records: int, width: int, rank: Rank) -> None:
        self._mem, self._secret, self._records, self._rank = mem, secret, records, rank
        self._values = struct.Struct(f"<{width}d")
        self._size = DIGEST_BYTES + self._values.size

    def _group(self, key: str) -> tuple[bytes, list[int]]:
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), key=self._secret,
                                 digest_size=DIGEST_BYTES).digest()
        first = int.from_bytes(digest[:8], "little") % self._records
        offsets = [HEADER_BYTES + ((first + i) % self._records) * self._size for i in range(GROUP)]
        return digest, offsets

    def _find(self, digest: bytes, offsets: list[int]) -> int | None:
        for at in offsets:
            if self._mem[at:at + DIGEST_BYTES] == digest:
                return at
        return None

    def get(self, key: str) -> Values | None:
        """The key's values, or None when it has no record."""
        at = self._find(*self._group(key))
        return None if at is None else self._values.unpack_from(self._mem, at + DIGEST_BYTES)

    def put(self, key: str, values: Values) -> bool:
        """Store the key's values; False when no record could be had for it."""
        digest, offsets = self._group(key)
        at = self._find(digest, offsets)
        if at is None:
            at = self._room(offsets)
            if at is None:
                return False
        self._mem[at:at + DIGEST_BYTES] = digest
        self._values.pack_into(self._mem, at + DIGEST_BYTES, *values)
        return True

    def drop(self, key: str) -> None:
        at = self._find(*self._group(key))
        if at is not None:
            self._mem[at:at + self._size] = bytes(self._size)

    def _room(self, offsets: list[int]) -> int | None:
        """An empty or free record of the group, else the lowest-ranked one that may give way."""
        lowest, pick = math.inf, None
        for at in offsets:
            if self._mem[at:at + DIGEST_BYTES] == EMPTY:
                return at
            rank = self._rank(self._values.unpack_from(self._mem, at + DIGEST_BYTES))
            if not rank > 0:      # also NaN: a half-written record
                return at
            if rank < lowest:
                lowest, pick = rank, at
        return pick


class SlotTable:
    """``records`` records of ``width`` values in the file ``path`` (None: this process only)."""

    def __init__(self, path: Path | None, records: int, width: int, rank: Rank) -> None:
        self.path, self.records, self.width, self.rank = path, records, width, rank
        self.size = HEADER_BYTES + records * (DIGEST_BYTES + 8 * width)
        self._fd = -1
        self._ino = -1
        self._slots: Slots | None = None
        if path is None:
            self._slots = self._private()

    def _private(self) -> Slots:
        mem = mmap.mmap(-1, self.size)
        return Slots(mem, os.urandom(16), self.records, self.width, self.rank)

    def _open(self) -> Slots:
        """Map the file, made when missing; one of another shape is replaced by a new one (never cut
        short in place: a process that still maps it would crash on a page that went away)."""
        assert self.path is not None
        self.close()
        for _ in range(3):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise OSError(f"{self.path} is not a regular file")
                if st.st_size == 0:        # just made: ours to shape, under the lock
                    self._shape(fd)
                head = os.pread(fd, HEADER.size, 0)
                magic, records, width, secret = HEADER.unpack(head) if len(head) == HEADER.size else (b"", 0, 0, b"")
                if os.fstat(fd).st_size != self.size or (magic, records, width) != (MAGIC, self.records, self.width):
                    self._replace()
                    os.close(fd)
                    continue
                mem = mmap.mmap(fd, self.size)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BaseException:
                os.close(fd)
                raise
            self._fd, self._ino = fd, st.st_ino
            return Slots(mem, secret, self.records, self.width, self.rank)
        raise OSError(f"{self.path} keeps being replaced")

    def _shape(self, fd: int) -> None:
        os.ftruncate(fd, self.size)
        os.pwrite(fd, HEADER.pack(MAGIC, self.records, self.width, os.urandom(16)), 0)

    def _replace(self) -> None:
        assert self.path is not None
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            self._shape(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def _current(self) -> Slots:
        """The mapped table; mapped again when its file was removed or replaced since."""
        if self.path is None:
            assert self._slots is not None
            return self._slots
        try:
            ino = os.stat(self.path).st_ino
        except FileNotFoundError:
            ino = -2
        if self._slots is None or ino != self._ino:
            try:
                self._slots = self._open()
            except OSError as exc:
                # Counting in this process alone is worse than sharing, never worse than nothing.
                log.error("shared table %s: %s; counting in this process only", self.path, exc)
                self.path = None
                self._slots = self._private()
        return self._slots

    @contextmanager
    def held(self) -> Iterator[Slots]:
        """The table, locked against every other process for the block."""
        slots = self._current()
        if self.path is None:
            yield slots
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield slots
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._slots = None
