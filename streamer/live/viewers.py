"""The viewer table every worker shares: who holds a live-stream slot, of either kind.

A row is one open stream: its address, its kind (``mjpeg`` or ``h264``) and its *pool*,
the set of slots it counts against (``480p`` and ``720p`` for MJPEG, ``h264`` for the
low-data view).  A pool's limit counts distinct addresses across all workers, so
``--workers 2`` keeps the same limits as one worker; the per-address cap counts an
address's streams of every kind together.  Both are checked under one lock on one table,
so no two workers can both take the last slot.

The table is one small JSON file kept in memory (:mod:`common.state.volatile`: ``/dev/shm``,
named after the ring prefix; viewers need not outlive a reboot, and an SD card should not be
rewritten every second), changed under ``flock`` (the kernel drops the lock of a killed holder) and
replaced atomically.  Each busy worker rewrites its own rows every REFRESH_S with fresh
per-viewer statistics; a row not refreshed for EXPIRE_S, or whose worker died, no longer
holds a slot.  Rows are capped, so the file stays small whatever happens.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.process.pids import pid_alive
from common.state.jsonfile import FileLock, read_json, write_json_atomic
from common.state.volatile import volatile_path

EXPIRE_S = 3.0
REFRESH_S = 1.0        # how often a busy worker rewrites its rows: well inside EXPIRE_S
MAX_ROWS = 256
ROW_KEYS = ("address", "kind", "res")   # what a row must name to hold a slot


@dataclass(frozen=True)
class Admission:
    ok: bool
    pool: str
    limit: int            # the pool's limit, or the per-address cap when refused for it
    holders: int          # distinct addresses holding a slot in the pool
    streams: int = 0      # streams the address held before this one
    reason: str = ""
    per_address: bool = False   # refused for the address's own stream count


def holders(rows: list[dict[str, Any]], pool: str) -> set[str]:
    """Distinct addresses holding a slot of ``pool`` among ``rows``."""
    return {r.get("address", "") for r in rows if r.get("res") == pool}


class ViewerTable:
    def __init__(self, folder: Path, name: str, limits: Mapping[str, int], per_address: int = 0) -> None:
        self.folder = Path(folder)
        self.path = self.folder / name
        self._lock_path = self.folder / (name + ".lock")
        self._lock = FileLock(self._lock_path)
        self.limits = dict(limits)        # pool -> most distinct addresses
        self.per_address = per_address    # most streams one address may hold (0: no cap)
        self.pid = os.getpid()

    @classmethod
    def for_config(cls, prefix: str, run_dir: Path, limits: Mapping[str, int],
                   per_address: int = 0) -> ViewerTable:
        path = volatile_path(run_dir, prefix, "streamer-viewers.json")
        return cls(path.parent, path.name, limits, per_address)

    def delete_files(self) -> None:
        """Delete the table (the whole streamer has stopped: nothing may be left in /dev/shm)."""
        for path in (self.path, self._lock_path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The table, pruned, for changing; written back when the block ends."""
        with self._lock.held():
            data = self._pruned(read_json(self.path, mine=True))  # a bad table reads as empty and is rewritten
            yield data
            write_json_atomic(self.path, data)

    @staticmethod
    def _pruned(data: Any) -> dict[str, Any]:
        now = time.monotonic()
        rows = data.get("viewers", []) if isinstance(data, dict) else []
        workers = data.get("workers", {}) if isinstance(data, dict) else {}
        rows = rows if isinstance(rows, list) else []
        workers = workers if isinstance(workers, dict) else {}
        alive: dict[int, bool] = {}

        def fresh(seen: Any, pid: Any) -> bool:
            if not isinstance(seen, (int, float)) or not isinstance(pid, int) or not 0 < pid < 1 << 31:
                return False
            # After a reboot the monotonic clock starts again: an entry "from the future" is stale too.
            if not -1.0 <= now - seen <= EXPIRE_S:
                return False
            if pid not in alive:
                alive[pid] = pid_alive(pid)
            return alive[pid]

        rows = [r for r in rows if isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ROW_KEYS)
                and fresh(r.get("last_seen"), r.get("pid"))]
        workers = {k: w for k, w in workers.items()
                   if isinstance(w, dict) and fresh(w.get("last_seen"), w.get("pid"))}
        return {"viewers": rows[-MAX_ROWS:], "workers": workers}

    def admit(self, row: dict[str, Any]) -> Admission:
        """Take a slot for ``row`` (address, kind, res: its pool, conn, ...) unless refused."""
        pool, address = row["res"], row["address"]
        limit = self.limits[pool]
        with self._locked() as data:
            rows = data["viewers"]
            inside = holders(rows, pool)
            if address not in inside and len(inside) >= limit:
                return Admission(False, pool, limit, len(inside),
                                 reason=f"{pool} already has {len(inside)} viewers (the limit)")
            held = sum(1 for r in rows if r.get("address") == address)
            if self.per_address and held >= self.per_address:
                return Admission(False, pool, self.per_address, len(inside), held,
                                 f"this address already has {held} streams open (the limit)", per_address=True)
            if len(rows) >= MAX_ROWS:
                return Admission(False, pool, limit, len(inside), held, "too many open streams")
            rows.append({**row, "pid": self.pid, "last_seen": time.monotonic()})
            return Admission(True, pool, limit, len(inside | {address}), held)

    def sync(self, rows: list[dict[str, Any]], views: list[dict[str, Any]]) -> None:
        """Replace this worker's rows with ``rows`` (its live viewers) and its view statistics."""
        now = time.monotonic()
        with self._locked() as data:
            others = [r for r in data["viewers"] if r.get("pid") != self.pid]
            mine = [{**r, "pid": self.pid, "last_seen": now} for r in rows]
            data["viewers"] = (others + mine)[-MAX_ROWS:]
            data["workers"][str(self.pid)] = {"pid": self.pid, "last_seen": now, "views": views}

    def remove(self, conn: str) -> None:
        with self._locked() as data:
            data["viewers"] = [r for r in data["viewers"] if not (r.get("pid") == self.pid and r.get("conn") == conn)]

    def leave(self) -> None:
        """This worker stops: its rows go at once."""
        with self._locked() as data:
            data["viewers"] = [r for r in data["viewers"] if r.get("pid") != self.pid]
            data["workers"].pop(str(self.pid), None)

    def read(self) -> dict[str, Any]:
        return self._pruned(read_json(self.path, mine=True))

    def counts(self) -> dict[str, int]:
        """Distinct addresses holding a slot, per pool."""
        rows = self.read()["viewers"]
        return {pool: len(holders(rows, pool)) for pool in self.limits}
