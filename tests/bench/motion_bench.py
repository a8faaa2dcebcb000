"""Motion detection: recall and start latency on scripted crossings, false events per hour
of the noisy static scene with its lighting ramp, and CPU per camera.

    python -m tests.bench.motion_bench [--quick]

Recall and false events come from the detector fed with the synthetic camera's frames
directly (``tests/support/motion_trial.py``), faster than real time, at the default settings.
CPU is the ``python -m motion`` process itself, watching both synthetic cameras (scripted
scene, a crossing every 10 s) through their rings, read from the scheduler's counters.
"""
from __future__ import annotations

import statistics
import time

from common.config import load
from common.state.board import StatusBoard
from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.bench.rig import Rig
from tests.bench.ring_bench import cpu_ns
from tests.support.motion_trial import run_trial
from tests.support.procs import isolated_env, wait_until

SECTION = "motion"
RECALL_MIN = 95.0        # % of crossings with an event starting within 1 s of the entry
FALSE_MAX = 1.0          # events per hour of static scene
CPU_MAX = 2.0            # %core per camera at the default settings
LATENCY_MAX_S = 1.0


def _cpu_per_camera(windows: int, window_s: float) -> list[float]:
    values = []
    with Rig(camera__synthetic_motion_every=10) as rig:
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
    return values


def run(quick: bool) -> list[Figure]:
    import tempfile
    from pathlib import Path
    cfg = load(isolated_env(Path(tempfile.mkdtemp(prefix="sht-bench-motion-"))))
    cross_s, static_s = (300.0, 1200.0) if quick else (900.0, 3600.0)
    crossing = run_trial(cfg, cross_s, 13.37)
    static = run_trial(cfg, static_s, 0)
    windows, window_s = (2, 4.0) if quick else (3, 10.0)
    cpu = _cpu_per_camera(windows, window_s)
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
        summarise(SECTION, "motion CPU per camera", cpu, "%core", f"<= {CPU_MAX:g} %core", lambda v: v <= CPU_MAX,
                  note=f"python -m motion on 2 cameras at {cfg.motion.analyse_fps:g} fps, divided by 2"),
        summarise(SECTION, "detector time per frame", [1e6 * crossing.cpu_s_per_frame,
                                                       1e6 * static.cpu_s_per_frame], "us",
                  note="detector and tracker only, 640x480 Y plane read at every 4th pixel"),
    ]


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
