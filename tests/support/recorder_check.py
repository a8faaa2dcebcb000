"""What the recorder tests read back: segment files, their frames and the status document."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av

from tests.support.procs import status_board

NAME_RE = re.compile(r"^cam(\d)_(\d{8})_(\d{6})(?:_\d+)?\.mp4$")


@dataclass
class Segment:
    path: Path
    frames: int              # packets read (one per frame)
    decoded: int             # frames actually decoded
    first_is_key: bool
    duration_s: float        # from the last frame's pts + duration, in the file's time base
    first_index: int         # ring index of the first frame (the recorder's comment tag)
    incarnation: int
    comment: str


def read_segment(path: Path) -> Segment:
    """Demux and decode every frame; a bad packet at a crash cut ends the file, not the test."""
    frames = decoded = 0
    first_key = False
    end = 0
    with av.open(str(path)) as c:
        comment = c.metadata.get("comment", "")
        stream = c.streams.video[0]
        try:
            for packet in c.demux(stream):
                if not packet.size:
                    continue
                if frames == 0:
                    first_key = packet.is_keyframe
                frames += 1
                end = max(end, packet.pts + (packet.duration or 0))
                try:
                    decoded += len(packet.decode())
                except av.InvalidDataError:
                    pass
        except av.InvalidDataError:
            pass
        duration = float(end * stream.time_base)
    fields = dict(part.split("=", 1) for part in comment.split() if "=" in part)
    return Segment(path, frames, decoded, first_key, duration, int(fields.get("first_index", -1)),
                   int(fields.get("incarnation", 0)), comment)


def finished(root: Path, camera: int = 0) -> list[Path]:
    """Finished segment files of one camera, in name (time) order."""
    files = [p for p in (root / f"cam{camera}").glob("*/*.mp4") if NAME_RE.match(p.name)]
    return sorted(files, key=lambda p: (p.name, p.parent.name))


def parts(root: Path, camera: int = 0) -> list[Path]:
    return sorted((root / f"cam{camera}").glob("*/.*.part"))


def status(env: dict[str, str], camera: int = 0) -> dict:
    return status_board(env).read(f"recorder-cam{camera}") or {}


def ffprobe_duration(path: Path) -> float | None:
    """The duration ffprobe reports, or None when ffprobe is not installed."""
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    out = subprocess.run([exe, "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return float(json.loads(out)["format"]["duration"])
