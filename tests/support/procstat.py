"""What a process and its children hold and have written, read from /proc.

* Memory: RSS counts every page a process maps, so the rings (shared memory) and the
  shared libraries count once in every process that maps them; PSS divides each shared
  page among the processes that map it, so the PSS of all processes adds up to the memory
  they really use; USS is the memory only that process holds (what stopping it would free).
  All three from ``/proc/<pid>/smaps_rollup``.
* Open files: entries of ``/proc/<pid>/fd`` (files, sockets, pipes, shared memory).
* Writes: ``write_bytes`` of ``/proc/<pid>/io``, the bytes the process made storage write
  (page-cache pages it dirtied); writes to a tmpfs (``/dev/shm``), a pipe or a socket do not
  count.  A child that ended takes its count with it.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

MB = 2**20


@dataclass(frozen=True)
class Usage:
    """One reading of a process with its children."""

    rss_mb: float
    pss_mb: float
    uss_mb: float
    shm_mb: float          # the part of RSS that is shared memory (mostly ring pages)
    open_files: int
    write_bytes: int
    processes: int

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.rss_mb + other.rss_mb, self.pss_mb + other.pss_mb, self.uss_mb + other.uss_mb,
                     self.shm_mb + other.shm_mb, self.open_files + other.open_files,
                     self.write_bytes + other.write_bytes, self.processes + other.processes)


NOTHING = Usage(0.0, 0.0, 0.0, 0.0, 0, 0, 0)


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (empty when ``pid`` is gone)."""
    try:
        proc = psutil.Process(pid)
        return [pid, *(child.pid for child in proc.children(recursive=True))]
    except psutil.Error:
        return []


def _fields(path: str, names: Iterable[str]) -> dict[str, int]:
    """``Name: value`` lines of a /proc file (the first number of each), for ``names``."""
    wanted, out = set(names), {}
    with open(path) as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in wanted:
                out[key] = int(rest.split()[0])
    return out


def one(pid: int) -> Usage | None:
    """A reading of process ``pid`` alone, or None when it is gone (or not ours to read)."""
    try:
        mem = _fields(f"/proc/{pid}/smaps_rollup", ("Rss", "Pss", "Private_Clean", "Private_Dirty"))
        shm = _fields(f"/proc/{pid}/status", ("RssShmem",)).get("RssShmem", 0)
        written = _fields(f"/proc/{pid}/io", ("write_bytes",)).get("write_bytes", 0)
        files = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError, IndexError):
        return None
    kb = 1024 / MB
    return Usage(mem.get("Rss", 0) * kb, mem.get("Pss", 0) * kb,
                 (mem.get("Private_Clean", 0) + mem.get("Private_Dirty", 0)) * kb, shm * kb, files, written, 1)


def usage(pid: int) -> Usage | None:
    """A reading of ``pid`` and its children added up, or None when ``pid`` is gone."""
    readings = [u for u in map(one, family(pid)) if u is not None]
    if not readings:
        return None
    return sum(readings, NOTHING)
