"""Motion per analysed frame to events: when one starts, peaks and ends.

An event starts at the first of ``CONFIRM_FRAMES`` consecutive frames whose moving area
reaches ``min_area_percent`` (one odd frame is not an event), is held open while motion
goes on and for ``post_seconds`` after it stops, and is cut at ``MAX_EVENT_S`` so that
endless motion (a flag in the wind) still gives bounded events.
"""
from __future__ import annotations

from dataclasses import dataclass

from motion.detector import Motion

CONFIRM_FRAMES = 2
MAX_EVENT_S = 300.0


@dataclass
class OpenEvent:
    start_mono_ns: int
    start_wall_ns: int
    last_mono_ns: int
    last_wall_ns: int
    peak_area: float = 0.0
    peak_bbox: tuple[float, float, float, float] | None = None
    peak_wall_ns: int = 0
    event_id: int | None = None   # set by whoever stores it


@dataclass
class Step:
    """What one frame changed: at most one of started / ended, and whether the peak rose."""
    started: OpenEvent | None = None
    ended: OpenEvent | None = None
    peak: bool = False
    reason: str = ""


class Tracker:
    def __init__(self, min_area_percent: float, post_seconds: float) -> None:
        self.min_area = min_area_percent
        self.post_ns = int(post_seconds * 1e9)
        self.event: OpenEvent | None = None
        self._streak: list[tuple[int, int, Motion]] = []   # at most CONFIRM_FRAMES entries

    def update(self, mono_ns: int, wall_ns: int, motion: Motion) -> Step:
        step = Step()
        moving = motion.area_percent >= self.min_area
        ev = self.event
        if ev is None:
            if not moving:
                self._streak.clear()
                return step
            self._streak.append((mono_ns, wall_ns, motion))
            if len(self._streak) < CONFIRM_FRAMES:
                return step
            first_mono, first_wall, _ = self._streak[0]
            ev = self.event = OpenEvent(first_mono, first_wall, mono_ns, wall_ns)
            for _m_ns, w_ns, m in self._streak:
                self._peak(ev, w_ns, m)
            self._streak.clear()
            step.started, step.peak = ev, True
            return step
        if moving:
            ev.last_mono_ns, ev.last_wall_ns = mono_ns, wall_ns
            step.peak = self._peak(ev, wall_ns, motion)
        if mono_ns - ev.last_mono_ns >= self.post_ns:
            step.ended, step.reason = self.close(), "quiet"
        elif mono_ns - ev.start_mono_ns >= MAX_EVENT_S * 1e9:
            step.ended, step.reason = self.close(), "max length"
        return step

    def close(self) -> OpenEvent | None:
        ev, self.event = self.event, None
        self._streak.clear()
        return ev

    @staticmethod
    def _peak(ev: OpenEvent, wall_ns: int, motion: Motion) -> bool:
        if motion.area_percent <= ev.peak_area:
            return False
        ev.peak_area, ev.peak_bbox, ev.peak_wall_ns = motion.area_percent, motion.bbox, wall_ns
        return True
