"""Which recorded segments cover a stretch of time, and storing them with each closed event.

Segments are back to back, so segment i covers from its start to the next one's (the last
of a run: ``segment_seconds``), as the archive index (:mod:`common.archive.index`) lists
them; :func:`covering`'s caller refreshes the index first.
"""
from __future__ import annotations

from common.archive.events import EventStore
from common.archive.index import ArchiveIndex

SLACK_S = 1.0           # a start told by a file's name has one-second resolution
RESOLVE_AFTER_S = 5.0   # a segment is renamed into place at most this long after it ends


def covering(index: ArchiveIndex, camera: int, start_wall: float, end_wall: float,
             segment_seconds: float) -> list[str]:
    """Relative paths of the finished segments that overlap [start_wall, end_wall], in order."""
    segs = index.starting(camera, start_wall - segment_seconds - SLACK_S, end_wall + segment_seconds + SLACK_S)
    out = []
    for i, seg in enumerate(segs):
        t = seg.start
        end = segs[i + 1].start if i + 1 < len(segs) else t + segment_seconds
        end = min(max(end, t), t + segment_seconds + SLACK_S)
        if t <= end_wall + SLACK_S and end > start_wall:
            out.append(seg.file)
    return out


def resolve(store: EventStore, index: ArchiveIndex, segment_seconds: float, now: float) -> int:
    """Store the segment files that cover each closed event, once they are all written (the
    event ended a segment and the rename's delay before ``now``, epoch seconds); returns how
    many events got theirs."""
    waiting = store.unresolved(now - segment_seconds - RESOLVE_AFTER_S)
    if waiting:
        index.refresh()
    for ev in waiting:
        store.set_segments(ev["id"], covering(index, ev["camera"], ev["start_wall"] - ev["pre_s"], ev["end_wall"],
                                              segment_seconds))
    return len(waiting)
