"""What the archive index lists, for tests, and segments recorded on a simulated clock."""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

from common.archive import events as store
from common.archive import segment_name
from common.archive.index import ArchiveIndex, Recording


def oldest_first(root: Path) -> list[Recording]:
    """Every finished segment under ``root`` in retention's order (oldest first)."""
    index = ArchiveIndex(root)
    try:
        index.refresh()
        return list(index.oldest_first())
    finally:
        index.close()


class Recorded:
    """Both cameras' segments written back to back as the recorders write them: the file,
    its modification time at its end, the row the indexer adds; some linked to a motion event.
    ``now`` is the simulated clock (epoch seconds), ``monotonic`` a clock that runs with it."""

    def __init__(self, root: Path, start: float, segment_s: float = 30.0, size: int = 10_000) -> None:
        self.root, self.segment_s, self.size = Path(root), segment_s, size
        self.now = start
        self.index = ArchiveIndex(root)
        self.files: list[str] = []
        self.events: set[str] = set()
        self._start = start
        self._last: dict[int, float] = {}   # each camera's newest file's modification time

    def monotonic(self) -> float:
        return self.now - self._start

    def record(self, cameras: tuple[int, ...] = (0, 1), event: bool = False, name_at: float | None = None,
               size: int | None = None) -> list[str]:
        """One segment of each camera ending a segment length from now (named at ``name_at``
        instead of now when given: a wrong clock); the clock moves on by it."""
        made = []
        for cam in cameras:
            rel = str(segment_name.for_start(cam, datetime.fromtimestamp(self.now if name_at is None else name_at))
                      .rel_path)
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\0" * (size or self.size))
            start = self.now if name_at is None else name_at
            # A wrong clock dates the file too; the recorder keeps files in write order
            # (recorder.retention.diskguard.keep_write_order).
            end = max(start + self.segment_s, self._last.get(cam, 0.0) + 0.001)
            self._last[cam] = end
            os.utime(path, (end, end))
            assert self.index.add([Recording(rel, cam, start, self.segment_s, size or self.size, end)])
            made.append(rel)
        self.files += made
        if event:
            self.link(made)
        self.now += self.segment_s
        return made

    def link(self, files: list[str]) -> None:
        """A motion event in each of ``files`` (as the motion process records it)."""
        st = store.EventStore(store.db_path(self.root))
        try:
            for file in files:
                eid = st.open_event(0, self.now, 0.0, 0.0, 1.0, None, self.now)
                st.set_segments(eid, [file])
        finally:
            st.close()
        self.events.update(files)

    def present(self) -> list[str]:
        """The segments still on disk, in the order they were written."""
        return [f for f in self.files if (self.root / f).exists()]

    def video_deleted(self) -> set[str]:
        """The files whose events carry the "video deleted" mark."""
        conn = sqlite3.connect(store.db_path(self.root))
        try:
            return {f for (f,) in conn.execute("SELECT s.file FROM event_segments s JOIN events e ON e.id = s.event_id "
                                               "WHERE e.video_deleted = 1")}
        finally:
            conn.close()
