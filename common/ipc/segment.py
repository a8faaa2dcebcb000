"""A mapped ring segment: typed access to the header of either ring kind, and to the
header and slot fields of the frame ring (``frame_layout``)."""
from __future__ import annotations

import ctypes
import logging
import mmap
import os
import struct
from collections.abc import Callable
from typing import ClassVar

import posix_ipc

from common.ipc.frame_layout import HEADER_FIELDS, HEADER_SIZE, MAGIC, SLOT_FIELDS, VERSION, Geometry, field_struct


class RingError(Exception):
    """A segment that exists but cannot be used (wrong magic, version or size)."""


class RingBusy(Exception):
    """Another live process already writes this ring (one owner per camera)."""


def shm_path(name: str) -> str:
    """Where Linux shows a POSIX shared-memory segment in the file system."""
    return "/dev/shm/" + name.lstrip("/")


def replaced(name: str, inode: int) -> bool:
    """Does ``name`` now stand for another segment than ``inode`` (a new writer's)?"""
    try:
        return os.stat(shm_path(name)).st_ino != inode
    except FileNotFoundError:
        return False


class Refused(Exception):
    """A segment under a ring's name that a reader cannot or may not use: as good as no writer."""

    def __init__(self, why: str, logged: bool = False) -> None:
        super().__init__(why)
        self.logged = logged   # already logged here (another user's segment)


log = logging.getLogger("ring")
_foreign_logged: set[tuple[str, int, int]] = set()   # (name, inode, owner): one log line each per process


def map_for_reading(name: str, label: str, min_size: int) -> tuple[mmap.mmap, os.stat_result] | None:
    """Map the segment ``name`` of either ring kind; None when there is none.

    Raises :class:`Refused` (its text starts with ``label``) for a segment this process may
    not open or map, one smaller than ``min_size``, or one another user owns: its contents
    could be anything, so a reader never trusts it (logged once per segment as an error).
    """
    try:
        shm = posix_ipc.SharedMemory(name)
    except posix_ipc.ExistentialError:
        return None
    except (posix_ipc.Error, OSError) as exc:
        raise Refused(f"{label}: cannot open the segment: {exc}") from None
    try:
        st = os.fstat(shm.fd)
        if st.st_uid != os.geteuid():
            why = (f"{label}: refused, the segment belongs to user {st.st_uid}, "
                   f"not to this process's user {os.geteuid()}")
            seen = (name, st.st_ino, st.st_uid)
            if seen not in _foreign_logged:
                if len(_foreign_logged) >= 64:
                    _foreign_logged.clear()
                _foreign_logged.add(seen)
                log.error("%s", why)
            raise Refused(why, logged=True)
        if st.st_size < min_size:
            # Zero-size or tiny: a foreign segment, or a writer between creating and sizing it.
            raise Refused(f"{label}: segment of {st.st_size} bytes is too small for a header")
        return mmap.mmap(shm.fd, st.st_size), st
    except (OSError, ValueError) as exc:
        raise Refused(f"{label}: cannot map the segment: {exc}") from None
    finally:
        shm.close_fd()


def header_fields(table: dict[str, tuple[int, str]], structs: Callable[[str], struct.Struct]
                  ) -> dict[str, tuple[int, struct.Struct]]:
    """A layout's header table as name -> (offset, struct), for :class:`SegmentHeader`."""
    return {name: (at, structs(name)) for name, (at, _) in table.items()}


class SegmentHeader:
    """Typed access, by name, to the header fields of a mapped segment.

    A subclass per ring kind gives its layout: the fields, magic, version and header size.
    """

    FIELDS: ClassVar[dict[str, tuple[int, struct.Struct]]]
    MAGIC: ClassVar[bytes]
    VERSION: ClassVar[int]
    SIZE: ClassVar[int]

    def __init__(self, mm: mmap.mmap) -> None:
        self.mm = mm

    def get(self, field: str) -> int:
        """A number field's value."""
        at, fmt = self.FIELDS[field]
        value: int = fmt.unpack_from(self.mm, at)[0]
        return value

    def get_bytes(self, field: str) -> bytes:
        """A byte-string field's value (magic, source, name), padding included."""
        at, fmt = self.FIELDS[field]
        value: bytes = fmt.unpack_from(self.mm, at)[0]
        return value

    def put(self, field: str, value: int | bytes) -> None:
        at, fmt = self.FIELDS[field]
        fmt.pack_into(self.mm, at, value)

    def wake_address(self) -> tuple[ctypes.c_uint32, int]:
        """The futex word (drop it before :meth:`close`: it holds the map open) and its address."""
        word = ctypes.c_uint32.from_buffer(self.mm, self.FIELDS["wake"][0])
        return word, ctypes.addressof(word)

    def close(self) -> None:
        try:
            self.mm.close()
        except BufferError:
            pass  # a caller still holds a view; the map goes when the last view does


class Segment(SegmentHeader):
    """A mapped frame ring segment with typed access to its header and slot fields."""

    FIELDS = header_fields(HEADER_FIELDS, field_struct)
    MAGIC, VERSION, SIZE = MAGIC, VERSION, HEADER_SIZE

    def slot_get(self, base: int, field: str) -> int:
        value: int = field_struct(field).unpack_from(self.mm, base + SLOT_FIELDS[field][0])[0]
        return value

    def slot_put(self, base: int, field: str, value: int) -> None:
        field_struct(field).pack_into(self.mm, base + SLOT_FIELDS[field][0], value)

    def geometry(self) -> Geometry:
        return Geometry(int(self.get("width")), int(self.get("height")), int(self.get("slot_count")))

    def frame_buffers(self, geo: Geometry) -> list[memoryview]:
        """Per slot: the whole I420 frame as one flat view of the map.

        A view holds a buffer export, so a closed map raises instead of crashing."""
        whole = memoryview(self.mm)
        return [whole[geo.payload_offset(slot):geo.payload_offset(slot) + geo.frame_bytes]
                for slot in range(geo.slot_count)]


def text(value: bytes) -> str:
    return value.rstrip(b"\x00").decode("utf-8", "replace")
