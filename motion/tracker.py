"""Motion per analysed frame to events: when one starts, peaks and ends.

An event starts at the first of ``CONFIRM_FRAMES`` consecutive frames whose moving area
reaches ``min_area_percent`` (one odd frame is not an event) and is held open while motion
goes on and for ``post_seconds`` after it stops.  Motion that goes on past
``max_event_seconds`` is cut there: the event ends at the first moving frame past that
length and the next one starts at that very frame, so a busy hour is a row of consecutive
events (each with its own thumbnail and playback point), with no motion left between them.
"""
from __future__ import annotations

from dataclasses import dataclass

from motion.detector import Motion

CONFIRM_FRAMES = 2
QUIET, CUT, STOP = "quiet", "max length", "stop"   # why an event ended (stored with it)


@dataclass
class OpenEvent:
    start_mono_ns: int
    start_wall_ns: int
    last_mono_ns: int             # the last frame with motion
    last_wall_ns: int
    peak_area: float = 0.0
    peak_bbox: tuple[float, float, float, float] | None = None
    peak_wall_ns: int = 0
    event_id: int | None = None   # set by whoever stores it
    continues: int | None = None  # the id of the event this one continues (cut at max length)
    end_mono_ns: int = 0          # set when it ends
    end_wall_ns: int = 0


@dataclass
class Step:
    """What one frame changed: an event ``ended`` and/or one ``started`` (both at a cut,
    the ended one first), and whether the open event's peak rose with this frame."""
    started: OpenEvent | None = None
    ended: OpenEvent | None = None
    peak: bool = False
    reason: str = ""


class Tracker:
    def __init__(self, min_area_percent: float, post_seconds: float, max_event_seconds: float) -> None:
        self.min_area = min_area_percent
        self.post_ns = int(post_seconds * 1e9)
        self.max_ns = int(max_event_seconds * 1e9)
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
        if moving and mono_ns - ev.start_mono_ns >= self.max_ns:
            step.ended, step.reason = self._end(mono_ns, wall_ns, CUT), CUT
            nxt = self.event = OpenEvent(mono_ns, wall_ns, mono_ns, wall_ns, continues=ev.event_id)
            self._peak(nxt, wall_ns, motion)
            step.started, step.peak = nxt, True
            return step
        if moving:
            ev.last_mono_ns, ev.last_wall_ns = mono_ns, wall_ns
            step.peak = self._peak(ev, wall_ns, motion)
        elif mono_ns - ev.last_mono_ns >= self.post_ns:
            # Held open post_seconds after the last motion: it ends there.
            step.ended = self._end(ev.last_mono_ns + self.post_ns, ev.last_wall_ns + self.post_ns, QUIET)
            step.reason = QUIET
        return step

    def close(self) -> OpenEvent | None:
        """End the open event (if any) at its last motion: the process stops."""
        ev = self.event
        return self._end(ev.last_mono_ns, ev.last_wall_ns, STOP) if ev is not None else None

    def _end(self, end_mono_ns: int, end_wall_ns: int, reason: str) -> OpenEvent:
        ev = self.event
        assert ev is not None
        ev.end_mono_ns, ev.end_wall_ns = max(end_mono_ns, ev.start_mono_ns), max(end_wall_ns, ev.start_wall_ns)
        self.event = None
        self._streak.clear()
        return ev

    @staticmethod
    def _peak(ev: OpenEvent, wall_ns: int, motion: Motion) -> bool:
        if motion.area_percent <= ev.peak_area:
            return False
        ev.peak_area, ev.peak_bbox, ev.peak_wall_ns = motion.area_percent, motion.bbox, wall_ns
        return True
