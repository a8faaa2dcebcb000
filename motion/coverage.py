"""Which recorded segments cover a stretch of time.

Segments are back to back and named after the local time of their first frame
(``camN/YYMMDD/camN_YYYYMMDD_HHMMSS.mp4``), so segment i covers from its name's time to
the next one's (the last of a run: ``segment_seconds``), without opening any file.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from recorder.segmenter import FINAL_RE

SLACK_S = 1.0   # names have one-second resolution


def _starts(root: Path, camera: int, day: datetime) -> list[tuple[float, str]]:
    folder = f"cam{camera}/{day.strftime('%y%m%d')}"
    try:
        names = os.listdir(root / folder)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    out = []
    for name in names:
        m = FINAL_RE.match(name)
        if not m or int(m.group(1)) != camera:
            continue
        try:
            t = datetime.strptime(m.group(2) + m.group(3), "%Y%m%d%H%M%S").timestamp()
        except ValueError:
            continue
        out.append((t, f"{folder}/{name}"))
    return out


def covering(root: Path, camera: int, start_wall: float, end_wall: float, segment_seconds: float) -> list[str]:
    """Relative paths of the finished segments that overlap [start_wall, end_wall], in order."""
    first = datetime.fromtimestamp(start_wall - segment_seconds - SLACK_S)
    last = datetime.fromtimestamp(end_wall)
    segs: list[tuple[float, str]] = []
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= last:
        segs += _starts(root, camera, day)
        day += timedelta(days=1)
    segs.sort()
    out = []
    for i, (t, rel) in enumerate(segs):
        end = segs[i + 1][0] if i + 1 < len(segs) else t + segment_seconds
        end = min(end, t + segment_seconds + SLACK_S)
        if t <= end_wall + SLACK_S and end > start_wall:
            out.append(rel)
    return out
