"""Files a crash left behind: temporary segments get their final names.

Only a file with no picture at all (0 bytes, or the MP4 header alone) is removed.

A segment killed mid-write is a fragmented MP4 that plays up to its last complete
fragment, so it is a recording like any other; it only lacks its final name.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from common import segment_name
from recorder.writer import finalise, probe

log = logging.getLogger("recorder")
HEADER_ONLY_BYTES = 64 * 1024  # larger than any fragmented-MP4 header; a first fragment is far larger


def leftover_parts(camera_dir: Path) -> list[Path]:
    """Temporary segment files under ``cam{N}/`` (all day folders), oldest first."""
    found = []
    if not camera_dir.is_dir():
        return found
    for day in sorted(p for p in camera_dir.iterdir() if p.is_dir()):
        for entry in os.scandir(day):
            if segment_name.is_part(entry.name):
                found.append(Path(entry.path))
    return sorted(found)


def recover(root: Path, camera: int) -> list[dict]:
    """Finalise every temporary segment of one camera; returns what was done, for status."""
    done = []
    for part in leftover_parts(root / segment_name.camera_folder(camera)):
        final_name = segment_name.final_of_part(part.name)
        if final_name is None:
            log.warning("recovery: %s does not look like a segment; left as it is", part)
            continue
        if part.stat().st_size == 0:
            # Created, then the process died before a byte was written: no recording in it.
            log.warning("recovery: %s is empty (0 bytes); removed", part)
            part.unlink()
            continue
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
        done.append({"file": rel, "bytes": target.stat().st_size, "frames": check.frames,
                     "duration_s": round(check.duration_s, 3), "playable": check.ok})
    return done
