"""Which files each program's writes land in, page by page: the kernel's
``writeback:writeback_dirty_folio`` tracepoint, recorded with ``perf`` while the programs run.

``/proc/<pid>/io``'s ``write_bytes`` counts the pages a process dirtied, all files together.
The tracepoint fires at the same moment with the file's inode, so each dirtied page can be
charged to a file: a segment (the video), the archive index, the motion events database, a
log, or the filesystem's own blocks (inode tables, directories, bitmaps, which the kernel
keeps in the block device's page cache: their inode number is the device number).  The
tracepoint does not say how large a folio is; files written a few bytes at a time (databases,
logs, metadata) use single pages, so for them a folio is 4,096 bytes.  A segment appended in
large writes may get larger folios, so the video is taken from ``write_bytes``, not from here.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from pathlib import Path

PAGE = 4096
EVENT = "writeback:writeback_dirty_folio"
TRACEFS = ("/sys/kernel/tracing/events/writeback/writeback_dirty_folio",
           "/sys/kernel/debug/tracing/events/writeback/writeback_dirty_folio")
LINE = re.compile(r"\s*(\d+)\s+bdi (\d+):(\d+): ino=(\d+) index=(\d+)")
KINDS = ("video", "filesystem metadata", "archive index", "events database", "logs", "other")
LOOK_EVERY_S = 1.0      # how often the watched folders are listed (files come, are renamed, go)


def _mount_tracefs() -> None:
    """perf finds tracepoints through tracefs, which a container or a minimal boot may not
    have mounted; root mounts it where the kernel provides its folder."""
    where = TRACEFS[0].split("/events/")[0]
    try:
        if os.path.isdir(where) and not os.listdir(where):
            subprocess.run(["mount", "-t", "tracefs", "nodev", where], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        pass   # then the check below says why


def unavailable() -> str:
    """Why pages cannot be charged to files here ("" when they can)."""
    if shutil.which("perf") is None:
        return "perf is not installed"
    if os.geteuid() != 0:
        return "recording a kernel tracepoint needs root"
    _mount_tracefs()
    if not any(os.path.isdir(p) for p in TRACEFS):
        return f"this kernel has no {EVENT} tracepoint (or tracefs is not mounted)"
    return ""


def kind_of(path: str | None, root: Path, logs: Path, metadata: bool) -> str:
    """The kind of file a dirtied page belongs to."""
    if metadata:
        return "filesystem metadata"
    if path is None:
        return "other"
    name = os.path.basename(path)
    if path.startswith(f"{logs}/"):
        return "logs"
    if path.startswith(f"{root}/cam") and name.endswith((".mp4", ".mp4.part")):
        return "video"
    if name.startswith("recordings.sqlite"):
        return "archive index"
    if name.startswith("events.sqlite"):
        return "events database"
    return "other"


class DirtyPages:
    """Pages dirtied by ``pids`` (program name -> pid, each with all its threads) between
    :meth:`start` and :meth:`stop`, by kind of file under ``root`` (recordings) and ``logs``."""

    def __init__(self, pids: dict[str, int], root: Path, logs: Path) -> None:
        self.pids, self.root, self.logs = pids, Path(root), Path(logs)
        self._files: dict[int, str] = {}        # inode -> a path it had
        self._threads: dict[int, str] = {}      # thread id -> program
        self._stop = threading.Event()
        self._looker = threading.Thread(target=self._look, daemon=True)
        self._out = Path(tempfile.mkdtemp(prefix="sht-dirty-")) / "perf.data"
        self._perf: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._note()
        self._perf = subprocess.Popen(["perf", "record", "-q", "-a", "-e", EVENT, "-o", str(self._out)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._looker.start()

    def stop(self) -> dict[str, Counter[str]]:
        """Per program, bytes (pages x 4,096) dirtied in each kind of file."""
        self._stop.set()
        self._looker.join()
        self._note()
        assert self._perf is not None
        self._perf.send_signal(2)
        self._perf.wait(timeout=60)
        script = subprocess.run(["perf", "script", "-i", str(self._out), "-F", "tid,trace"],
                                capture_output=True, text=True, timeout=300).stdout
        shutil.rmtree(self._out.parent, ignore_errors=True)
        return self.charge(script)

    def charge(self, script: str) -> dict[str, Counter[str]]:
        """``perf script -F tid,trace`` output, charged to programs and kinds of file."""
        out: dict[str, Counter[str]] = {name: Counter() for name in self.pids}
        for line in script.splitlines():
            m = LINE.match(line)
            if not m:
                continue
            tid, major, minor, ino = int(m[1]), int(m[2]), int(m[3]), int(m[4])
            program = self._threads.get(tid)
            if program is None:
                continue
            # The block device's own inode carries the kernel's device number (major << 20 | minor).
            metadata = ino == (major << 20 | minor)
            out[program][kind_of(self._files.get(ino), self.root, self.logs, metadata)] += PAGE
        return out

    def _look(self) -> None:
        while not self._stop.wait(LOOK_EVERY_S):
            self._note()

    def _note(self) -> None:
        for name, pid in self.pids.items():
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    self._threads[int(tid)] = name
            except OSError:
                pass
        for base in (self.root, self.logs):
            for folder, _dirs, files in os.walk(base):
                for f in files:
                    path = os.path.join(folder, f)
                    try:
                        self._files.setdefault(os.stat(path).st_ino, path)
                    except OSError:
                        pass
