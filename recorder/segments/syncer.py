"""Push the segment being written to the disk about once a second.

The muxer hands every packet to the kernel at once (``flush_packets``), which is enough
for a kill -9.  A power cut also loses what the kernel has not written yet (up to the
file system's commit interval, 5 s on ext4), so a background thread calls ``fdatasync``
on the file every second, and syncs its folder once, so that the new file's name survives
too.  It runs in its own thread because an SD card can take tens of milliseconds to sync,
and the recording loop must not wait for that.

A sync that finds new data without blocks on the disk allocates them then: the file system's
bitmaps and the file's extents are written again at every sync, tens of MB a day for each
camera.  So blocks are set aside ahead of the file, about ``AHEAD_S`` of video at a time,
beyond its end (its size does not change: a reader, a player and retention see what was
written); the blocks left over go back when the segment ends (:func:`release`, by the closer)
or, after a crash, when it is recovered.  Never more than a ``FREE_SHARE``-th of the free
space: on a nearly full or small disk nothing is set aside, and retention's free-space figures
stay what the files make them.  A file system that cannot set blocks aside syncs as before.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger("recorder")

AHEAD_S = 30.0                 # set aside ahead of the open segment: this long at the rate it grows...
RESERVE_MAX = 16 << 20         # ...at most this much at a time...
RESERVE_MIN = 256 << 10        # ...and not less (else nothing)
FREE_SHARE = 64                # never more than this share of the free space
_KEEP_SIZE = 1                 # FALLOC_FL_KEEP_SIZE: the blocks go beyond the end, the size stays
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
# (the 64-bit offsets' name: on a 32-bit system plain ``fallocate`` takes 32-bit ones)
_fallocate = getattr(_libc, "fallocate64", None) or getattr(_libc, "fallocate", None)
if _fallocate is not None:
    _fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


def _set_aside(fd: int, offset: int, length: int) -> int:
    """0, or the errno of ``fallocate`` keeping the size."""
    if _fallocate is None:
        return errno.ENOSYS
    return 0 if _fallocate(fd, _KEEP_SIZE, offset, length) == 0 else ctypes.get_errno()


def release(path: Path) -> None:
    """Give back the blocks set aside beyond the end of a file no one writes any more (a
    truncation to its own size; its modification time is kept: it tells the write order)."""
    st = os.stat(path)
    if st.st_blocks * 512 <= st.st_size + 4096 * 2:
        return   # nothing beyond its end (a block or two of rounding)
    os.truncate(path, st.st_size)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


class Syncer:
    """``interval`` seconds between syncs (``recorder.sync_seconds``); 0 turns syncing off."""

    def __init__(self, interval: float = 1.0, reserve: bool = True) -> None:
        self.interval = interval
        self.reserve = reserve          # False: no blocks set aside
        self._path: Path | None = None
        self._size = 0                  # the watched file's size at the last tick
        self._reserved = self._ahead = 0   # it has blocks up to here, the last set aside ``_ahead`` long
        self._folder_synced = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="syncer", daemon=True)
        if interval > 0:
            self._thread.start()

    def watch(self, path: Path | None) -> None:
        """Sync ``path`` from now on (None: nothing)."""
        with self._lock:   # (waits for a reservation under way: none is made for a file that ended)
            self._path, self._folder_synced = path, path is None
            self._size = self._reserved = self._ahead = 0

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                path, new = self._path, not self._folder_synced
                self._folder_synced = True
            if path is None:
                continue
            if new:
                self.sync_dir(path.parent)
            self._reserve_ahead(path)
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

    def _reserve_ahead(self, path: Path) -> None:
        """Blocks for the next ``AHEAD_S`` of the watched file, once half of those set aside
        are used.  Under the lock: the closer releases what is left only after :meth:`watch`
        has moved on, so nothing is set aside for a file that ended."""
        with self._lock:
            if not self.reserve or self._path != path:
                return
            try:
                fd = os.open(path, os.O_WRONLY)
            except OSError:
                return   # renamed or removed meanwhile
            try:
                size = os.fstat(fd).st_size
                grew, self._size = size - self._size, size
                if size + self._ahead // 2 < self._reserved:
                    return
                st = os.fstatvfs(fd)
                ahead = int(min(RESERVE_MAX, max(grew, 0) / self.interval * AHEAD_S,
                                st.f_bavail * st.f_frsize // FREE_SHARE))
                err = _set_aside(fd, size, ahead) if ahead >= RESERVE_MIN else -1
            finally:
                os.close(fd)
            if not err:
                self._reserved, self._ahead = size + ahead, ahead
            elif err in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                self.reserve = False
                log.info("%s: blocks cannot be set aside ahead of the segments here (%s); each sync "
                         "allocates them", path.parent, os.strerror(err))
            # (else: too little free space or none (ENOSPC), or a segment just begun; next time)

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
