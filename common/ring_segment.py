"""A mapped ring segment: typed access to the header of either ring kind, and to the
header and slot fields of the frame ring (``ring_layout``)."""
from __future__ import annotations

import ctypes
import mmap
import os
import struct
from typing import Callable, ClassVar

import numpy as np

from common.i420 import planes
from common.ring_layout import HEADER_FIELDS, HEADER_SIZE, MAGIC, SLOT_FIELDS, VERSION, Geometry, field_struct


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

    def get(self, field: str) -> int | bytes:
        at, fmt = self.FIELDS[field]
        return fmt.unpack_from(self.mm, at)[0]

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
            whole = np.frombuffer(self.mm, np.uint8, geo.frame_bytes, base).reshape(h * 3 // 2, w)
            views.append((*planes(whole, w, h), whole))
        return views


def text(value: bytes) -> str:
    return value.rstrip(b"\x00").decode("utf-8", "replace")
