"""Finished segments into the archive index, off the recording loop, a few minutes' worth at a time.

The loop hands each finished segment over (a list append, no I/O); a thread of its own reads
the file's modification time (its place in write order), shows the row to every reader at once
in memory (:mod:`common.archive.pending`) and adds the rows to the archive index
(:mod:`common.archive.index`) together, every ``BATCH_S`` or ``BATCH_ROWS`` rows, and all of
them at a clean stop: consecutive rows share the index's pages, so a batch costs the storage
about what one row did.  It waits for a busy database as long as it takes, so neither a reader
nor the motion process can hold up a frame.  What waits is bounded: when the database stays
unwritable (disk full) the oldest entries are dropped, with a warning.  Nothing is lost for
good: a dropped entry, or one a kill -9 took with the process, is a file the index finds at
its folder's next refresh (start from the name, duration from the file).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

from common.archive import pending
from common.archive.index import ArchiveIndex, Recording

log = logging.getLogger("recorder")

WAITING_MAX = 256      # finished segments waiting for the database (over two hours of 30 s segments)
BATCH_S = 300.0        # rows wait at most this long for the database...
BATCH_ROWS = 10        # ...or until this many wait
RETRY_S = 1.0          # after the database refused a write
BUSY_MS = 2000         # this thread may wait: it holds nothing else up


class Indexer:
    def __init__(self, root: Path, writer: str, batch_s: float = BATCH_S, batch_rows: int = BATCH_ROWS) -> None:
        self.root = Path(root)
        self.writer = writer            # names these rows in memory: one writer per camera
        self.batch_s = batch_s
        self.batch_rows = batch_rows
        self.index = ArchiveIndex(self.root, busy_ms=BUSY_MS)
        self._handed: deque[Recording] = deque()    # from the loop, not stamped yet
        self._waiting: deque[Recording] = deque()   # stamped, shown in memory, not in the index yet
        self._since = 0.0                           # (monotonic) the oldest waiting row came
        self._wake = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        # A predecessor's rows (it was killed) are files the start's refresh finds: its file
        # goes, so that no reader leaves them to a process that took its pid.
        self._show([])

    def finished(self, path: Path, camera: int, start: float, duration: float | None, size: int) -> None:
        """A segment was given its final name: ``start`` in epoch seconds (its first frame),
        ``duration`` in seconds, ``size`` in bytes."""
        rec = Recording(Path(path).relative_to(self.root).as_posix(), camera, start, duration, size, 0.0)
        with self._wake:
            self._handed.append(rec)
            self._bound()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="indexer", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _bound(self) -> None:
        while len(self._handed) + len(self._waiting) > WAITING_MAX:
            lost = (self._waiting or self._handed).popleft()
            log.warning("archive index: %s dropped from the queue (the database does not take rows); "
                        "the next refresh finds it", lost.file)

    def _due(self) -> bool:
        return bool(self._waiting) and (self._stop or len(self._waiting) >= self.batch_rows
                                        or time.monotonic() - self._since >= self.batch_s)

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    while not self._handed and not self._due() and not self._stop:
                        self._wake.wait(max(0.0, self.batch_s - (time.monotonic() - self._since))
                                        if self._waiting else None)
                    handed = list(self._handed)
                    self._handed.clear()
                    if not handed and not self._waiting:
                        return   # stopped, and nothing waits
                stamped = self._stamped(handed)
                with self._wake:
                    if stamped and not self._waiting:
                        self._since = time.monotonic()
                    self._waiting.extend(stamped)
                    self._bound()
                    batch = list(self._waiting) if self._due() else []
                    shown = list(self._waiting)
                if stamped:
                    self._show(shown)
                if not batch:
                    continue
                if self.index.add(batch):
                    with self._wake:
                        for rec in batch:
                            if self._waiting and self._waiting[0] is rec:   # (unless dropped meanwhile)
                                self._waiting.popleft()
                        shown = list(self._waiting)
                        if shown:
                            self._since = time.monotonic()
                    self._show(shown)   # (after the rows are in: a reader never misses one)
                    continue
                with self._wake:
                    if self._stop:
                        return   # the next start's reconciling finds them
                    self._wake.wait(RETRY_S)
        finally:
            self.index.close()

    def _show(self, rows: list[Recording]) -> None:
        try:
            pending.publish(self.root, self.writer,
                            [(r.file, r.camera, r.start, r.duration, r.size, r.written) for r in rows])
        except OSError as exc:
            log.warning("archive index: the rows not added yet cannot be shown (%s); they are listed once added",
                        exc)

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
