"""Finished segments into the archive index, off the recording loop.

The loop hands each finished segment over (a list append, no I/O); a thread of its own reads
the file's modification time (its place in write order) and adds the row to the archive index
(:mod:`common.archive.index`), waiting for a busy database as long as it takes, so neither a
reader nor the motion process can hold up a frame.  What waits is bounded: when the database
stays unwritable (disk full) the oldest entries are dropped, with a warning.  Nothing is lost
for good: a dropped entry, or one a kill -9 took with the process, is a file the index finds
at its folder's next refresh (start from the name, duration from the file).
"""
from __future__ import annotations

import logging
import os
import threading
from collections import deque
from pathlib import Path

from common.archive.index import ArchiveIndex, Recording

log = logging.getLogger("recorder")

WAITING_MAX = 256      # finished segments waiting for the database (over two hours of 30 s segments)
RETRY_S = 1.0          # after the database refused a write
BUSY_MS = 2000         # this thread may wait: it holds nothing else up


class Indexer:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.index = ArchiveIndex(self.root, busy_ms=BUSY_MS)
        self._waiting: deque[Recording] = deque()
        self._wake = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None

    def finished(self, path: Path, camera: int, start: float, duration: float | None, size: int) -> None:
        """A segment was given its final name: ``start`` in epoch seconds (its first frame),
        ``duration`` in seconds, ``size`` in bytes."""
        rec = Recording(Path(path).relative_to(self.root).as_posix(), camera, start, duration, size, 0.0)
        with self._wake:
            if len(self._waiting) >= WAITING_MAX:
                lost = self._waiting.popleft()
                log.warning("archive index: %s dropped from the queue (the database does not take rows); "
                            "the next refresh finds it", lost.file)
            self._waiting.append(rec)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="indexer", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    while not self._waiting and not self._stop:
                        self._wake.wait()
                    if not self._waiting:
                        return
                    batch = list(self._waiting)
                if self.index.add(self._stamped(batch)):
                    with self._wake:
                        for rec in batch:
                            if self._waiting and self._waiting[0] is rec:   # (unless dropped meanwhile)
                                self._waiting.popleft()
                    continue
                with self._wake:
                    if self._stop:
                        return   # the next start's reconciling finds them
                    self._wake.wait(RETRY_S)
        finally:
            self.index.close()

    def _stamped(self, batch: list[Recording]) -> list[Recording]:
        out = []
        for rec in batch:
            try:
                written = os.stat(self.root / rec.file).st_mtime
            except OSError:
                continue   # deleted already (retention): no row for it
            out.append(Recording(rec.file, rec.camera, rec.start, rec.duration, rec.size, written))
        return out

    def close(self, timeout: float = 2.0) -> None:
        """Write what waits (within ``timeout``), then stop the thread."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)
