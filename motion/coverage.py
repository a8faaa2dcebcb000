"""Which recorded segments cover a stretch of time.

Segments are back to back and named after the local time of their first frame
(:mod:`common.archive.segment_name`), so segment i covers from its name's time to the next one's
(the last of a run: ``segment_seconds``), without opening any file.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from common.archive import segment_name

SLACK_S = 1.0   # names have one-second resolution


def _starts(root: Path, camera: int, day: datetime) -> list[tuple[float, int, str]]:
    folder = f"{segment_name.camera_folder(camera)}/{segment_name.day_folder(day)}"
    try:
        names = os.listdir(root / folder)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    out = []
    for name in names:
        parsed = segment_name.parse(name)
        if parsed is None or parsed.camera != camera:
            continue
        out.append((parsed.start.timestamp(), parsed.collision, f"{folder}/{name}"))
    return out


def covering(root: Path, camera: int, start_wall: float, end_wall: float, segment_seconds: float) -> list[str]:
    """Relative paths of the finished segments that overlap [start_wall, end_wall], in order."""
    first = datetime.fromtimestamp(start_wall - segment_seconds - SLACK_S)
    last = datetime.fromtimestamp(end_wall)
    segs: list[tuple[float, int, str]] = []
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= last:
        segs += _starts(root, camera, day)
        day += timedelta(days=1)
    segs.sort()
    out = []
    for i, (t, _, rel) in enumerate(segs):
        end = segs[i + 1][0] if i + 1 < len(segs) else t + segment_seconds
        end = min(max(end, t), t + segment_seconds + SLACK_S)
        if t <= end_wall + SLACK_S and end > start_wall:
            out.append(rel)
    return out
