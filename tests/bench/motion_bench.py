"""Motion detection on the synthetic scene and on real clips.

    python -m tests.bench.motion_bench [--quick]

Synthetic: recall and start latency on scripted crossings, false events per hour of the
noisy static scene with its lighting ramp, from the detector fed the synthetic camera's
frames directly (``tests/support/motion_trial.py``), faster than real time.

Real clips (``tests/support/clip_trial.py``; the clips are public files kept in
``.cache/footage/``, listed with their checksums in ``tests/support/footage.py``: without
them these figures are "not measured" and say how to bring them): recall of the entries
marked by hand in ``tests/data/motion_marks.json``, how soon an entry into a quiet picture
starts an event, whether every event is listed with its thumbnail within 2 s of its start,
false events per hour of each clip's empty stretch played back and forth for an hour with a
30% lighting ramp laid over it, and the crowd clip played for a quarter of an hour (cut into
consecutive events at ``motion.max_event_seconds``).  Frames go through the motion process's
camera watch (detector, tracker, thumbnails and database), at ``motion.analyse_fps`` of
clip time, each the sd frame the file source makes.

CPU is the ``python -m motion`` process itself, watching two cameras through their rings
(the synthetic scene with a crossing every 10 s, and two real clips played by the file
source), read from the scheduler's counters.
"""
from __future__ import annotations

import itertools
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common.config import Config, load
from common.state.board import StatusBoard
from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.bench.rig import Rig
from tests.bench.ring_bench import cpu_ns
from tests.support.clip_trial import LISTED_WITHIN_S, SCENE_T0_S, Marked, Run, back_and_forth, clip_frames, marked, play
from tests.support.footage import CLIPS, missing, sd_pictures
from tests.support.motion_trial import run_trial
from tests.support.procs import isolated_env, wait_until

SECTION = "motion"
RECALL_MIN = 95.0        # % of crossings / marked entries seen within 1 s
FALSE_MAX = 1.0          # events per hour of static scene
CPU_MAX = 2.0            # %core per camera at the default settings
LATENCY_MAX_S = 1.0
CROWD = "vtest.avi"      # the busy clip: played for BUSY_S to show events cut at max length
CPU_CLIPS = ("vtest.avi", "one-by-one-person-detection.mp4")


def _cpu_per_camera(windows: int, window_s: float, **overrides: object) -> list[float]:
    values = []
    with Rig(**overrides) as rig:
        rig.cameras(count=2)
        rig.procs.start("motion", "-m", "motion")
        pid = rig.pid("motion")
        board = StatusBoard.for_config(rig.cfg)
        wait_until(lambda: board.read("motion") is not None, 20, 0.1)
        time.sleep(2.0)  # imports and the first background learnt
        for _ in range(windows):
            t0, c0 = time.monotonic(), cpu_ns(pid)
            time.sleep(window_s)
            values.append(100.0 * (cpu_ns(pid) - c0) / 1e9 / (time.monotonic() - t0) / 2)
            rig._alive("motion")
        # Both cameras were analysed all along (a camera that gave no frames would cost nothing).
        doc = board.read("motion")
        cams = doc.get("cameras", {}) if doc else {}
        analysed = [cams.get(str(c), {}).get("frames", 0) for c in range(2)]
        if min(analysed) < windows * window_s * rig.cfg.motion.analyse_fps * 0.8:
            raise RuntimeError(f"the motion process analysed only {analysed} frames of its 2 cameras")
    return values


def _synthetic(cfg: Config, quick: bool) -> list[Figure]:
    cross_s, static_s = (300.0, 1200.0) if quick else (900.0, 3600.0)
    crossing = run_trial(cfg, cross_s, 13.37)
    static = run_trial(cfg, static_s, 0)
    lat = crossing.latencies_s or [float("nan")]
    confirm = crossing.confirm_latencies_s or [float("nan")]
    return [
        summarise(SECTION, "recall", [100.0 * crossing.recall], "%", f">= {RECALL_MIN:g} %",
                  lambda v: v >= RECALL_MIN,
                  note=f"{crossing.detected} of {crossing.crossings} crossings started an event within 1 s "
                       f"of entering ({cross_s / 60:.0f} min of scene, a crossing every 13.37 s)"),
        summarise(SECTION, "event start after entry, max", [max(lat)], "s", f"<= {LATENCY_MAX_S:g} s",
                  lambda v: v <= LATENCY_MAX_S, note=f"median {statistics.median(lat):.2f} s: event start "
                                                    "(first moving frame) minus the figure entering the picture"),
        summarise(SECTION, "event declared after entry, max", [max(confirm)], "s", f"<= {LATENCY_MAX_S:g} s",
                  lambda v: v <= LATENCY_MAX_S, note="time of the frame that confirmed the event (what the live badge "
                                                    "and the webhook wait for) minus the entry"),
        summarise(SECTION, "false events per hour", [static.false_per_hour], "/h", f"<= {FALSE_MAX:g} /h",
                  lambda v: v <= FALSE_MAX, note=f"{static.false_events} in {static_s / 60:.0f} min of noisy "
                                                 "static scene with a cloud dimming the light by 30%"),
        summarise(SECTION, "detector time per frame", [1e6 * crossing.cpu_s_per_frame,
                                                       1e6 * static.cpu_s_per_frame], "us",
                  note="detector and tracker only, 640x480 Y plane read at every 4th pixel"),
    ]


def _start_latencies(m: Marked, run: Run) -> list[float]:
    """For each entry into a quiet picture (no event open or held), its event's start minus the entry."""
    out = []
    for entry in m.entries:
        t = SCENE_T0_S + entry.t   # events are stored on the trial's scene clock
        if any(e["start_mono"] < t - 0.05 <= e["end_mono"] for e in run.events):
            continue                # someone else is moving already: no new event to start
        after = [e["start_mono"] - t for e in run.events if e["start_mono"] >= t - 0.5]
        if after:
            out.append(min(after))
    return out


def _real(cfg: Config, quick: bool) -> list[Figure]:
    fps, max_s = float(cfg.motion.analyse_fps), float(cfg.motion.max_event_seconds)
    spec: dict[str, tuple[str, str, Callable[[float], bool] | None]] = {   # name: unit, target, check
        "real clips: recall": ("%", f">= {RECALL_MIN:g} %", lambda v: v >= RECALL_MIN),
        "real clips: event start after entry into a quiet picture, max":
            ("s", f"<= {LATENCY_MAX_S:g} s", lambda v: v <= LATENCY_MAX_S),
        "real clips: events listed with a thumbnail within 2 s": ("%", "= 100 %", lambda v: v >= 100.0),
        "real empty scenes: false events per hour": ("/h", f"<= {FALSE_MAX:g} /h", lambda v: v <= FALSE_MAX),
        "real crowd: longest event": ("s", f"<= {max_s:g} s + a frame", lambda v: v <= max_s + 1 / fps),
        "real crowd: gap between consecutive events, max": ("s", "= 0 s", lambda v: abs(v) < 1e-6),
        "real clips: camera watch time per frame": ("us", "", None),
    }
    marks = marked()
    absent = missing([m.clip.file for m in marks])
    got = {} if absent else _measure_real(cfg, marks, quick)
    return [summarise(SECTION, name, got[name][0] if got else [], unit, target, check,
                      note=got[name][1] if got else f"not measured: {absent}")
            for name, (unit, target, check) in spec.items()]


def _measure_real(cfg: Config, marks: list[Marked], quick: bool) -> dict[str, tuple[list[float], str]]:
    fps = float(cfg.motion.analyse_fps)
    runs = [(m, play(cfg, sd_pictures(m.clip, fps), m.entries)) for m in marks]
    entries = sum(len(m.entries) for m in marks)
    seen = sum(len(r.seen) for _, r in runs)
    missed = [f"{m.clip.file} {e.t:g} s" for m, r in runs for e in m.entries if e.t not in r.seen]
    delays = [d for _, r in runs for d in r.seen.values()]
    starts = [s for m, r in runs for s in _start_latencies(m, r)]
    listed = [x for _, r in runs for x in r.listed]
    bare = sum(r.late_or_bare for _, r in runs)
    empty_s = 1200.0 if quick else 3600.0
    false_h, false_notes = [], []
    for m in marks:
        if m.empty is None:
            continue
        r = play(cfg, back_and_forth(clip_frames(m.clip, fps, *m.empty), empty_s, fps, light=True))
        false_h.append(len(r.events) * 3600.0 / empty_s)
        false_notes.append(f"{m.clip.file} {m.empty[0]:g}-{m.empty[1]:g} s: {len(r.events)}")
    busy_s = 660.0 if quick else 900.0
    crowd = play(cfg, back_and_forth(clip_frames(CLIPS[CROWD], fps), busy_s, fps))
    spans = [(e["start_wall"], e["end_wall"]) for e in crowd.events]
    gaps = [b2 - b1 for (_, b1), (b2, _) in itertools.pairwise(spans)] or [0.0]
    clip_names = ", ".join(m.clip.file for m in marks if m.entries)
    return {
        "real clips: recall": (
            [100.0 * seen / max(1, entries)],
            f"{seen} of {entries} hand-marked entries ({clip_names}) seen within 1 s: an event open and moving "
            f"cells in the entry's box; median {statistics.median(delays or [math.nan]):.2f} s"
            + (f"; missed: {', '.join(missed)}" if missed else "")),
        "real clips: event start after entry into a quiet picture, max": (
            [max(starts)] if starts else [],
            f"{len(starts)} entries with no event open: event start (first moving frame) minus the marked entry"),
        "real clips: events listed with a thumbnail within 2 s": (
            [100.0 * (len(listed) - bare) / max(1, len(listed))],
            f"{len(listed) - bare} of {len(listed)} events had their thumbnail when stored; stored "
            f"{max((a for a, _ in listed), default=0):.2f} s after their start at most (limit {LISTED_WITHIN_S:g} s)"),
        "real empty scenes: false events per hour": (
            false_h,
            f"each clip's empty stretch played back and forth for {empty_s / 60:.0f} min with the light dimming by "
            f"30% every 150 s; events: {'; '.join(false_notes)} (median of the scenes)"),
        "real crowd: longest event": (
            [max(b - a for a, b in spans)] if spans else [],
            f"{CROWD} played back and forth for {busy_s / 60:.0f} min: {len(spans)} events, each with a thumbnail: "
            f"{all(e['has_thumbnail'] for e in crowd.events)}"),
        "real crowd: gap between consecutive events, max": (
            [max(gaps)], "the next event starts where the previous one was cut: no motion left out"),
        "real clips: camera watch time per frame": (
            [1e6 * r.cpu_s_per_frame for _, r in runs],
            "CameraWatch.analyse: detector, tracker, thumbnails and database writes, per analysed frame "
            f"(median of {len(runs)} clips)"),
    }


def run(quick: bool) -> list[Figure]:
    cfg = load(isolated_env(Path(tempfile.mkdtemp(prefix="sht-bench-motion-"))))
    figures = _synthetic(cfg, quick)
    figures += _real(cfg, quick)
    windows, window_s = (2, 4.0) if quick else (3, 10.0)
    cpu = _cpu_per_camera(windows, window_s, camera__synthetic_scene="still", camera__synthetic_motion_every=10)
    figures.append(summarise(SECTION, "motion CPU per camera", cpu, "%core", f"<= {CPU_MAX:g} %core",
                             lambda v: v <= CPU_MAX,
                             note=f"python -m motion on 2 synthetic cameras at {cfg.motion.analyse_fps:g} fps, "
                                  "divided by 2"))
    absent = missing(list(CPU_CLIPS))
    real_cpu = [] if absent else _cpu_per_camera(
        windows, window_s, camera__source="file", camera__files=json.dumps([str(CLIPS[c].path) for c in CPU_CLIPS]))
    figures.append(summarise(SECTION, "motion CPU per camera, real clips", real_cpu, "%core",
                             f"<= {CPU_MAX:g} %core", lambda v: v <= CPU_MAX,
                             note=f"not measured: {absent}" if absent else
                             f"python -m motion on 2 cameras playing {' and '.join(CPU_CLIPS)}, divided by 2"))
    return figures


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
