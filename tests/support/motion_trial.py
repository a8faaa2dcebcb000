"""The detector against the scripted synthetic scene, faster than real time.

Frames come straight from the synthetic camera's renderer (``capture.sources.synthetic.sd_frames``,
overlay included), not through a ring, so an hour of scene takes about a minute.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from capture.sources.synthetic import MotionScript, sd_frames
from common.config import Config
from common.video.overlay import stamp_rows
from motion.detector import Detector
from motion.tracker import Tracker

START_S = 10_000.0   # scene time of the first frame (any value; crossings are at multiples of `every`)


@dataclass
class Picture:
    """An sd frame as :meth:`motion.camera.CameraWatch.analyse` takes it, outside any ring."""
    mono_ns: int
    wall_ns: int
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    def valid(self) -> bool:
        return True


@dataclass
class TrialResult:
    seconds: float
    crossings: int
    detected: int                # crossings with an event starting within 1 s of the entry
    latencies_s: list[float]     # event start minus entry, per detected crossing
    confirm_latencies_s: list[float]  # when the event was declared (frame time) minus entry
    false_events: int            # events starting away from every crossing
    cpu_s_per_frame: float       # detector + tracker only (process CPU time)
    frames: int

    @property
    def recall(self) -> float:
        return self.detected / self.crossings if self.crossings else 1.0

    @property
    def false_per_hour(self) -> float:
        return self.false_events * 3600.0 / self.seconds


def run_trial(cfg: Config, seconds: float, every: float, camera: int = 0) -> TrialResult:
    """``every`` = 0: the static scene (noise and lighting ramp, no figure)."""
    mc = cfg.motion
    script = MotionScript(every if every > 0 else 1e12)
    fps = float(mc.analyse_fps)
    det = Detector(640, 480, mc.sensitivity, (mc.masks[camera] if camera < len(mc.masks) else []),
                   stamp_rows(480) if cfg.camera.overlay else 0)
    tracker = Tracker(mc.min_area_percent, mc.post_seconds, mc.max_event_seconds)
    entries = script.sd_entries(START_S, START_S + seconds - script.crossing_s) if every > 0 else []
    starts: list[tuple[float, float]] = []   # (event start, frame time it was declared)
    cpu = 0.0
    frames = 0
    for mono_ns, y in sd_frames(script, fps, START_S, seconds, camera):
        c0 = time.process_time()
        step = tracker.update(mono_ns, mono_ns, det.feed(y))
        cpu += time.process_time() - c0
        frames += 1
        if step.started is not None:
            starts.append((step.started.start_mono_ns / 1e9, mono_ns / 1e9))
    latencies, confirms, matched = [], [], set()
    for entry in entries:
        hits = [(s, c) for s, c in starts if entry - 1.0 <= s <= entry + 1.0]
        if hits:
            s, c = hits[0]
            matched.add(s)
            latencies.append(s - entry)
            confirms.append(c - entry)
    # Any event that does not start while a figure is in view counts as false (including
    # the crossing cut short by the end of the trial, which recall leaves out).
    every_entry = script.sd_entries(START_S, START_S + seconds) if every > 0 else []
    in_view = [(e, e + script.crossing_s) for e in every_entry]
    false = sum(1 for s, _ in starts if s not in matched and not any(a - 1 <= s <= b for a, b in in_view))
    return TrialResult(seconds, len(entries), len(latencies), latencies, confirms, false,
                       cpu / max(1, frames), frames)
