"""Push the segment being written to the disk about once a second.

The muxer hands every packet to the kernel at once (``flush_packets``), which is enough
for a kill -9.  A power cut also loses what the kernel has not written yet (up to the
file system's commit interval, 5 s on ext4), so a background thread calls ``fdatasync``
on the file every second, and syncs its folder once, so that the new file's name survives
too.  It runs in its own thread because an SD card can take tens of milliseconds to sync,
and the recording loop must not wait for that.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

log = logging.getLogger("recorder")


class Syncer:
    """``interval`` seconds between syncs (``recorder.sync_seconds``); 0 turns syncing off."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._path: Path | None = None
        self._folder_synced = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="syncer", daemon=True)
        if interval > 0:
            self._thread.start()

    def watch(self, path: Path | None) -> None:
        """Sync ``path`` from now on (None: nothing)."""
        with self._lock:
            self._path, self._folder_synced = path, path is None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                path, new = self._path, not self._folder_synced
                self._folder_synced = True
            if path is None:
                continue
            if new:
                self.sync_dir(path.parent)
            try:
                # fdatasync works on the file, whichever descriptor names it.
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue  # renamed or removed meanwhile: the next tick sees the new path
            try:
                os.fdatasync(fd)
            except OSError as exc:
                log.warning("fdatasync %s: %s", path, exc)
            finally:
                os.close(fd)

    @staticmethod
    def sync_dir(path: Path) -> None:
        """Make a new or renamed directory entry durable."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
