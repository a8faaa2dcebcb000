"""Motion events of the simulated month, written the way the motion process writes them.

Each camera sees events at a rate that follows the day (:func:`rate_per_hour`: a busy street by
day, a few at dawn and dusk, almost none at night), a few seconds to a few minutes long.  Each
is opened and closed in the events database (:mod:`common.archive.events`) at simulated times,
with the motion process's pre-roll and a thumbnail scaled like the segments; the segments that
cover it are linked as the motion process links them (:func:`motion.coverage.resolve`, with
its own archive index) and told to the ledger; old events are pruned as it prunes them.
Progress writes of an open event (one a second) are left out: nothing reads them here.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from common.archive.events import EventStore, db_path
from common.archive.index import ArchiveIndex
from motion.coverage import resolve
from tests.support.month_ledger import Ledger

BUSY_PER_HOUR = 36.0     # events per camera and hour in the day
QUIET_PER_HOUR = 1.0     # at night
MEDIAN_S = 15.0          # an event's median length
LONGEST_S = 300.0
THUMBNAIL_BYTES = 8000   # a full-size thumbnail, scaled like the segments


def rate_per_hour(local: datetime) -> float:
    hour = local.hour
    if 8 <= hour < 19:
        return BUSY_PER_HOUR
    if 6 <= hour < 8 or 19 <= hour < 22:
        return BUSY_PER_HOUR / 3
    return QUIET_PER_HOUR


@dataclass
class _Open:
    event_id: int
    start_wall: float
    start_true: float
    end_true: float


class SimMotion:
    def __init__(self, root: Path, cameras: int, segment_s: float, pre_s: float, scale: float,
                 ledger: Ledger, rng: random.Random) -> None:
        self.store, _ = EventStore.open_or_replace(db_path(root))
        self.index = ArchiveIndex(root)
        self.cameras, self.segment_s, self.pre_s = cameras, segment_s, pre_s
        self.ledger, self.rng = ledger, rng
        self.thumbnail = b"\xff\xd8" + bytes(max(0, round(THUMBNAIL_BYTES / scale) - 2))
        self.open: dict[int, _Open] = {}
        self.waiting: set[int] = set()    # closed, not linked to their segments yet
        self.events = 0
        self.linked = 0

    def active(self, camera: int) -> bool:
        return camera in self.open

    def step(self, true: float, wall: float, local: datetime, dt: float) -> None:
        """The last ``dt`` seconds up to ``true``/``wall``: events end and begin."""
        for camera in range(self.cameras):
            ev = self.open.get(camera)
            if ev is not None and ev.end_true <= true:
                end_wall = wall - (true - ev.end_true)
                self.store.close_event(ev.event_id, end_wall, ev.end_true, "quiet", end_wall, ev.end_true, 3.0,
                                       None, ev.start_wall, self.thumbnail)
                self.waiting.add(ev.event_id)
                del self.open[camera]
            elif ev is None and self.rng.random() < rate_per_hour(local) * dt / 3600:
                back = self.rng.uniform(0, dt)
                length = min(LONGEST_S, self.rng.lognormvariate(math.log(MEDIAN_S), 0.8))
                event_id = self.store.open_event(camera, wall - back, true - back, self.pre_s, 3.0, None, wall - back)
                self.open[camera] = _Open(event_id, wall - back, true - back, true - back + length)
                self.events += 1

    def resolve(self, wall: float, drain: bool = False) -> None:
        """What the motion process does every few seconds (``drain``: again until nothing is left,
        which it does over a few rounds); the ledger learns the linked segments."""
        if not self.waiting or not resolve(self.store, self.index, self.segment_s, wall):
            return
        while drain and resolve(self.store, self.index, self.segment_s, wall):
            pass
        marks = ",".join("?" * len(self.waiting))
        rows = self.store.conn.execute(f"SELECT id, segments FROM events WHERE id IN ({marks}) "
                                       "AND segments IS NOT NULL", sorted(self.waiting)).fetchall()
        for event_id, files in rows:
            self.ledger.mark_events(json.loads(files))
            self.waiting.discard(event_id)
            self.linked += 1

    def prune(self, keep_days: float, wall: float) -> None:
        self.store.prune(keep_days, now=wall)

    def close(self) -> None:
        self.store.close()
        self.index.close()
