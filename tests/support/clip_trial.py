"""The motion process's camera watch on real clips, faster than real time.

Each clip's sd frames (:mod:`tests.support.footage`, as the file source makes them) go,
``motion.analyse_fps`` a second of clip time, through a :class:`motion.camera.CameraWatch`
that stores its events in a database of its own: detection, events, thumbnails and the
database writes are the ones the motion process does; only the ring is left out.

Entries are marked by hand in ``tests/data/motion_marks.json`` (how: its ``about``).  An
entry counts as seen when, within ``ENTRY_WINDOW_S`` of it, an analysed frame has an event
open and moving cells inside the entry's box: on a busy scene an event is open anyway, and
it is the newcomer's own motion that has to be found.
"""
from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from capture.sources.synthetic import MotionScript
from common.archive import events as store
from common.config import Config
from motion.camera import CameraWatch
from tests.support.footage import CLIPS, Clip, SdPicture, sd_pictures

MARKS = Path(__file__).resolve().parents[1] / "data" / "motion_marks.json"
ENTRY_WINDOW_S = 1.0
LISTED_WITHIN_S = 2.0     # every event must be listed with its thumbnail this soon after its start
SCENE_T0_S = 50_000.0     # scene time (CLOCK_MONOTONIC seconds) of a trial's first frame
WALL_OFFSET_S = 1.8e9     # wall clock = scene time + this


@dataclass(frozen=True)
class Entry:
    t: float                                   # clip seconds
    box: tuple[float, float, float, float]     # x, y, width, height in % of the sd picture
    who: str


@dataclass(frozen=True)
class Marked:
    clip: Clip
    entries: tuple[Entry, ...]
    empty: tuple[float, float] | None          # a stretch of the clip with no one in it


def marked() -> list[Marked]:
    doc = json.loads(MARKS.read_text())
    out = []
    for name, m in doc["clips"].items():
        clip = CLIPS[name]
        assert m["sha256"] == clip.sha256, f"{MARKS}: {name} was marked on another file"
        entries = tuple(Entry(float(e["t"]), (e["box"][0], e["box"][1], e["box"][2], e["box"][3]), e["who"])
                        for e in m["entries"])
        empty = (float(m["empty"][0]), float(m["empty"][1])) if "empty" in m else None
        out.append(Marked(clip, entries, empty))
    return out


@dataclass
class Run:
    """What a trial saw."""
    seconds: float = 0.0
    frames: int = 0
    cpu_s: float = 0.0                                        # process CPU in CameraWatch.analyse
    seen: dict[float, float] = field(default_factory=dict)    # entry t -> delay until seen
    listed: list[tuple[float, bool]] = field(default_factory=list)  # per event: listed after (s), with a thumbnail
    events: list[dict] = field(default_factory=list)          # as stored, oldest first

    @property
    def cpu_s_per_frame(self) -> float:
        return self.cpu_s / max(1, self.frames)

    @property
    def late_or_bare(self) -> int:
        """Events not listed with a thumbnail within LISTED_WITHIN_S of their start."""
        return sum(1 for after, thumb in self.listed if after > LISTED_WITHIN_S or not thumb)


def _box_cells(box: tuple[float, float, float, float], shape: tuple[int, int]) -> tuple[slice, slice]:
    rows, cols = shape
    x, y, w, h = box
    return (slice(int(y / 100 * rows), int(np.ceil((y + h) / 100 * rows))),
            slice(int(x / 100 * cols), int(np.ceil((x + w) / 100 * cols))))


def play(cfg: Config, pictures: Iterable[SdPicture], entries: Iterable[Entry] = ()) -> Run:
    """Feed ``pictures`` (``t`` in clip seconds, in order) to a camera watch; report what it did."""
    pending = sorted(entries, key=lambda e: e.t)
    run = Run()
    with tempfile.TemporaryDirectory(prefix="sht-motion-clip-") as tmp:
        es = store.EventStore(store.db_path(Path(tmp)))
        cam = CameraWatch(cfg, 0, es)
        first = None
        for pic in pictures:
            first = pic.t if first is None else first
            pic.mono_ns = int((SCENE_T0_S + pic.t) * 1e9)
            pic.wall_ns = int((WALL_OFFSET_S + SCENE_T0_S + pic.t) * 1e9)
            before = cam.events
            c0 = time.process_time()
            cam.analyse(pic)
            run.cpu_s += time.process_time() - c0
            run.frames += 1
            run.seconds = pic.t - first
            ev = cam.open_event
            if cam.events != before and ev is not None and ev.event_id is not None:
                row = store.get_event(es.conn, ev.event_id)
                assert row is not None
                # Listed with a picture: in memory while open (as the events list serves it).
                pictured = row["has_thumbnail"] or cam.pictures.get(0, ev.event_id) is not None
                run.listed.append((pic.t + SCENE_T0_S - row["start_mono"], bool(pictured)))
            moving = cam.detector.moving
            for entry in list(pending):
                if pic.t > entry.t + ENTRY_WINDOW_S:
                    pending.remove(entry)                     # missed
                elif pic.t >= entry.t and ev is not None and moving is not None \
                        and moving[_box_cells(entry.box, moving.shape)].any():
                    run.seen[entry.t] = pic.t - entry.t
                    pending.remove(entry)
        cam.stop()
        run.events = store.list_events(es.conn, None, 0, 1e12)[::-1]
        es.close()
    return run


def clip_frames(clip: Clip, fps: float, start_s: float = 0.0, end_s: float = 1e9) -> list[SdPicture]:
    """The analysed frames of a stretch, kept (copies) to be played again."""
    return [SdPicture(p.t, p.y.copy(), p.u.copy(), p.v.copy()) for p in sd_pictures(clip, fps, start_s, end_s)]


def back_and_forth(frames: list[SdPicture], seconds: float, fps: float,
                   light: bool = False) -> Iterator[SdPicture]:
    """``frames`` played forwards, then backwards, and so on for ``seconds`` (no jump where a
    plain loop would restart); with ``light``, the synthetic scene's cloud (the light dims by
    30% and comes back every 150 s) is laid over the real noise."""
    cloud = MotionScript(1e12)
    period = max(1, 2 * len(frames) - 2)
    y = np.empty_like(frames[0].y)
    for k in range(int(seconds * fps)):
        i = k % period
        src = frames[i if i < len(frames) else period - i]
        t = k / fps
        if light:
            cv2.convertScaleAbs(src.y, y, alpha=cloud.light(t))
            yield SdPicture(t, y, src.u, src.v)
        else:
            yield SdPicture(t, src.y, src.u, src.v)
