"""The picture of each camera's open motion event, kept in memory while the event is open.

An open event's picture follows its peak (a new one at most every few seconds); writing each
into the events database would rewrite the SD card with every larger peak.  The database gets
an event's last picture, when it ends; while it is open the newest is one file per camera in
the memory folder (:mod:`common.state.volatile`), headed by the event's id so that a reader
never serves it for another event.  A motion process killed outright leaves it for its
successor, which stores it; a power cut loses it, and with it the picture of the event that
was open then (its times and its video stay).
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

from common.state.jsonfile import make_private_dir, write_atomic
from common.state.volatile import volatile_path

_HEAD = struct.Struct("<q")   # the event's id
MAX_BYTES = 1 << 20           # a thumbnail is tens of kB: anything larger is not one of ours


class LivePictures:
    """The installation's (run folder ``run_dir``, ring prefix ``prefix``) open events' pictures."""

    def __init__(self, run_dir: Path, prefix: str) -> None:
        self.run_dir = Path(run_dir)
        self.prefix = prefix

    def path(self, camera: int) -> Path:
        return volatile_path(self.run_dir, self.prefix, f"motion-picture-cam{camera}.jpg")

    def put(self, camera: int, event_id: int, jpeg: bytes) -> None:
        path = self.path(camera)
        make_private_dir(path.parent)
        write_atomic(path, _HEAD.pack(event_id) + jpeg)

    def get(self, camera: int, event_id: int) -> bytes | None:
        """Event ``event_id``'s newest picture, or None (none kept, or kept for another event)."""
        try:
            with open(self.path(camera), "rb") as fh:
                data = fh.read(MAX_BYTES + _HEAD.size)
        except OSError:
            return None
        if len(data) <= _HEAD.size or _HEAD.unpack_from(data)[0] != event_id:
            return None
        return data[_HEAD.size:]

    def drop(self, camera: int) -> None:
        try:
            os.unlink(self.path(camera))
        except OSError:
            pass   # none kept (a memory file: nothing else can be wrong with it worth stopping for)
