"""Files a crash left behind: temporary segments get their final names.

Only a file with no picture at all (0 bytes, or the MP4 header alone) is removed.

A segment killed mid-write is a fragmented MP4 that plays up to its last complete
fragment, so it is a recording like any other; it only lacks its final name.  A power
cut can also leave half a fragment, or zeroed blocks, at the end: the file is cut back
to its last complete fragment, so that it decodes to the end.
"""
from __future__ import annotations

import logging
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from common.archive import segment_name
from common.archive.index import start_from_name
from common.state.documents import SegmentEntry
from recorder.segments.syncer import release
from recorder.segments.writer import finalise, probe

log = logging.getLogger("recorder")
HEADER_ONLY_BYTES = 64 * 1024  # larger than any fragmented-MP4 header; a first fragment is far larger
Finished = Callable[[Path, int, float, float | None, int], None]   # path, camera, start, duration, size


def complete_length(path: Path) -> int:
    """Bytes of ``path`` up to the end of its last complete top-level box, counting a
    fragment (``moof``) only together with its complete ``mdat``."""
    size = path.stat().st_size
    good = pos = 0
    fragment_open = False
    with open(path, "rb") as fh:
        while pos + 8 <= size:
            fh.seek(pos)
            head = fh.read(16)
            box_size, kind = struct.unpack(">I4s", head[:8])
            if box_size == 1 and len(head) == 16:
                box_size = struct.unpack(">Q", head[8:16])[0]
            if box_size < 8 or pos + box_size > size or not kind.isalnum():
                break   # zeros, a box cut short, or garbage: the end of what is usable
            if kind == b"mdat" and _zeroed(fh, pos + 8, pos + box_size):
                break   # blocks the cut left as zeros: this fragment never fully reached the disk
            if kind == b"moof":
                fragment_open = True
            elif kind == b"mdat" or not fragment_open:
                fragment_open = False
                good = pos + box_size
            pos += box_size
    return good


ZERO_RUN = bytes(8)   # never inside H.264 in MP4: a NAL unit's length is never 0, and
                     # emulation prevention keeps three zero bytes out of its payload


def _zeroed(fh: BinaryIO, start: int, end: int) -> bool:
    """Does the byte range hold a run of zeros that no encoder writes?"""
    fh.seek(start)
    tail = b""
    while start < end:
        chunk = fh.read(min(1 << 20, end - start))
        if not chunk:
            return True
        if ZERO_RUN in tail + chunk:
            return True
        tail = chunk[-(len(ZERO_RUN) - 1):]
        start += len(chunk)
    return False


def trim_incomplete_tail(part: Path) -> int:
    """Cut a crash-left file back to its last complete box; returns the bytes removed."""
    size = part.stat().st_size
    keep = complete_length(part)
    if 0 < keep < size:
        with open(part, "r+b") as fh:
            fh.truncate(keep)
        return size - keep
    return 0


def leftover_parts(camera_dir: Path) -> list[Path]:
    """Temporary segment files under ``cam{N}/`` (all day folders), oldest first.  A folder
    that cannot be listed (one a ``sudo`` run created) is skipped with a log line: recording
    starts all the same."""
    found: list[Path] = []
    try:
        days = sorted(p for p in camera_dir.iterdir() if p.is_dir())
    except FileNotFoundError:
        return found
    except OSError as exc:
        log.error("recovery: cannot list %s (%s); crash leftovers in it are not looked for",
                  camera_dir, exc.strerror or exc)
        return found
    for day in days:
        try:
            entries = list(os.scandir(day))
        except OSError as exc:
            log.error("recovery: cannot list %s (%s); crash leftovers in it are not looked for", day,
                      exc.strerror or exc)
            continue
        found.extend(Path(e.path) for e in entries if segment_name.is_part(e.name))
    return sorted(found)


def recover(root: Path, camera: int, finished: Finished | None = None) -> list[SegmentEntry]:
    """Finalise every temporary segment of one camera; returns what was done, for status.
    ``finished(path, camera, start, duration, size)`` is told of each file kept."""
    done: list[SegmentEntry] = []
    for part in leftover_parts(root / segment_name.camera_folder(camera)):
        final_name = segment_name.final_of_part(part.name)
        if final_name is None:
            log.warning("recovery: %s does not look like a segment; left as it is", part)
            continue
        last_write = part.stat().st_mtime   # before any cut: about when the recording stopped
        if part.stat().st_size == 0:
            # Created, then the process died before a byte was written: no recording in it.
            log.warning("recovery: %s is empty (0 bytes); removed", part)
            part.unlink()
            continue
        try:
            cut = trim_incomplete_tail(part)
        except OSError as exc:
            log.error("recovery: cannot read %s: %s", part, exc)
            cut = 0
        if cut:
            log.warning("recovery: %s ended in an incomplete fragment; %d bytes cut off", part.name, cut)
        try:
            release(part)   # blocks the syncer set aside beyond its end
        except OSError as exc:
            log.warning("recovery: %s: the space set aside beyond its end stays: %s", part.name, exc)
        check = probe(part)
        if check.frames == 0 and part.stat().st_size < HEADER_ONLY_BYTES:
            # Only the MP4 header was written (the process died before the first fragment):
            # there is no picture in it, and a file that never plays is not a recording.
            log.warning("recovery: %s holds no frame (header only, %d bytes); removed", part,
                        part.stat().st_size)
            part.unlink()
            continue
        try:
            target = finalise(part, part.with_name(final_name))
        except OSError as exc:
            log.error("recovery: cannot rename %s: %s", part, exc)
            continue
        rel = str(target.relative_to(root))
        if check.ok:
            log.warning("recovery: %s was left by a crash; kept as %s (%d frames, %.1f s)", part.name, rel,
                        check.frames, check.duration_s)
        else:
            log.warning("recovery: %s was left by a crash; kept as %s, but it does not play (%s)", part.name,
                        rel, check.error)
        size = target.stat().st_size
        if finished is not None:
            name = segment_name.parse(final_name)
            assert name is not None   # final_of_part parsed it
            duration = check.duration_s if check.ok else None   # None: read from the file when needed
            finished(target, camera, start_from_name(name, last_write, duration), duration, size)
        done.append({"file": rel, "bytes": size, "frames": check.frames,
                     "duration_s": round(check.duration_s, 3), "playable": check.ok})
    return done
