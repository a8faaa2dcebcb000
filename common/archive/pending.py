"""Finished segments whose rows the archive index does not have yet, kept in memory.

A recorder adds its rows to the index a few minutes' worth at a time
(:mod:`recorder.segments.indexer`): consecutive rows share the index's pages, so ten rows
in one transaction cost the storage about what one does.  Until they are in, its rows wait
in a small file in the memory folder (:mod:`common.state.volatile`), named after the
recordings root and the writer, and every reader of the index merges them into what it lists
(:mod:`common.archive.index`): a segment is listed within a second or so of its close.

A file whose writer is gone (killed) is left out: its segments are files without rows,
which a refresh lists like any other (the writer's next start refreshes its camera in full).
"""
from __future__ import annotations

import glob
import os
import zlib
from pathlib import Path
from typing import Any

from common.state.jsonfile import read_json, write_json_atomic
from common.state.volatile import volatile_dir

MAX_ROWS = 1024     # a file holding more is not one of ours (a writer keeps a few hundred at most)


def _stem(root: Path) -> str:
    # A checksum, not hashlib: hashlib loads OpenSSL (about 1 MB in the recorders and motion,
    # which need nothing else of it); a name needs no cryptography.
    digest = zlib.crc32(os.path.realpath(root).encode())
    return f"sht-pending-{digest:08x}-"


def pending_path(root: Path, writer: str) -> Path:
    """Where ``writer`` (one per process: ``cam0``...) keeps the rows it has not added yet."""
    return volatile_dir(Path(root)) / f"{_stem(root)}{writer}.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0   # another user's process (or a number no process has)
    return True


Row = tuple[str, int, float, float | None, int, float]   # file, camera, start, duration, size, written


def _row(raw: Any) -> Row | None:
    if not (isinstance(raw, list) and len(raw) == 6):
        return None
    file, camera, start, duration, size, written = raw
    if not (isinstance(file, str) and isinstance(camera, int) and isinstance(start, (int, float))
            and (duration is None or isinstance(duration, (int, float))) and isinstance(size, int)
            and isinstance(written, (int, float))):
        return None
    return file, camera, float(start), None if duration is None else float(duration), size, float(written)


def publish(root: Path, writer: str, rows: list[Row]) -> None:
    """``writer``'s rows not in the index yet (none: the file goes)."""
    path = pending_path(root, writer)
    if rows:
        write_json_atomic(path, {"pid": os.getpid(), "rows": [list(r) for r in rows]})
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def read(root: Path) -> list[Row]:
    """Every live writer's rows not in the index yet."""
    out: list[Row] = []
    for path in glob.glob(glob.escape(str(volatile_dir(Path(root)) / _stem(root))) + "*.json"):
        doc = read_json(Path(path))
        if not isinstance(doc, dict) or not isinstance(doc.get("pid"), int) or not _alive(doc["pid"]):
            continue
        rows = doc.get("rows")
        if not isinstance(rows, list) or len(rows) > MAX_ROWS:
            continue
        out.extend(r for r in map(_row, rows) if r is not None)
    return out
