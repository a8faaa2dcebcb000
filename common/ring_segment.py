"""A mapped ring segment: typed access to the header and slot fields of ``ring_layout``."""
from __future__ import annotations

import ctypes
import mmap

import numpy as np

from common.i420 import planes
from common.ring_layout import HEADER_FIELDS, SLOT_FIELDS, Geometry, field_struct


class RingError(Exception):
    """A segment that exists but cannot be used (wrong magic, version or size)."""


class RingBusy(Exception):
    """Another live process already writes this ring (one owner per camera)."""


def shm_path(name: str) -> str:
    """Where Linux shows a POSIX shared-memory segment in the file system."""
    return "/dev/shm/" + name.lstrip("/")


class Segment:
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
            whole = np.frombuffer(self.mm, np.uint8, geo.frame_bytes, base).reshape(h * 3 // 2, w)
            views.append((*planes(whole, w, h), whole))
        return views

    def wake_address(self) -> tuple[ctypes.c_uint32, int]:
        word = ctypes.c_uint32.from_buffer(self.mm, HEADER_FIELDS["wake"][0])
        return word, ctypes.addressof(word)

    def close(self) -> None:
        try:
            self.mm.close()
        except BufferError:
            pass  # a caller still holds a frame view; the map goes when the last view does


def text(value: bytes) -> str:
    return value.rstrip(b"\x00").decode("utf-8", "replace")
