"""Recording under CPU load: both recorders, 4 viewers of dual 720p, a snapshot flood and
two CPU hogs together.  The recorders must drop no frame (the ring holds 8 frames, 267 ms);
live view is what gives.

The mechanism is the streamer's lower CPU priority (``streamer.nice``, default 10).  It is
measured against the same load with the streamer at the recorders' priority (nice 0), so
its cost shows as the live viewers' fps with and without it.

    python -m tests.bench.recorder_under_load_bench [--quick]
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx

from common.state.board import StatusBoard
from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.bench.rig import CpuClock, Rig
from tests.bench.viewers import ViewerSet, rates
from tests.support.procs import wait_until

SECTION = "recorder_under_load"
PATH = "/stream?view=dual&res=720p"
SNAPSHOTS = ("/snapshot?view=0&res=720p", "/snapshot?view=1&res=480p", "/snapshot?view=dual&res=480p")
HOGS = 2
VIEWERS = 4
MECHANISM_NICE = 10


def _recorders(rig: Rig) -> list[dict]:
    board = StatusBoard.for_config(rig.cfg)
    return [board.read(f"recorder-cam{cam}") or {} for cam in (0, 1)]


def _flood(port: int, stop: threading.Event, counter: list[int]) -> None:
    transport = httpx.HTTPTransport(local_address="127.0.0.4")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=10) as client:
        i = 0
        while not stop.is_set():
            try:
                if client.get(SNAPSHOTS[i % len(SNAPSHOTS)]).status_code == 200:
                    counter[0] += 1
            except httpx.HTTPError:
                time.sleep(0.05)
            i += 1


def _one_run(nice: int, seconds: float) -> dict[str, float | str]:
    hogs: list[subprocess.Popen] = []
    stop = threading.Event()
    snaps = [0]
    with Rig(streamer__nice=nice) as rig:
        rig.cameras(wait=False)
        rig.streamer(wait=False)
        for cam in (0, 1):
            rig.recorder(cam)
        rig.wait_cameras()
        rig.wait_serving()
        wait_until(lambda: all(d.get("state") == "recording" for d in _recorders(rig)), 30.0, interval=0.2)
        load = ViewerSet.open(rig.port, PATH, VIEWERS, distinct=2)
        flooders = [threading.Thread(target=_flood, args=(rig.port, stop, snaps), daemon=True) for _ in range(2)]
        try:
            load.wait_streaming(20.0)
            for t in flooders:
                t.start()
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(HOGS)]
            time.sleep(2.0)   # everything at full load
            before_docs = _recorders(rig)
            before_counts = load.counts()
            snaps0 = snaps[0]
            clock = CpuClock(rig.pid("streamer"))
            time.sleep(seconds)
            after_docs = _recorders(rig)
            after_counts = load.counts()
            used, wall = clock.elapsed()
            snap_rate = (snaps[0] - snaps0) / seconds
            errors = load.errors()
        finally:
            stop.set()
            for hog in hogs:
                hog.kill()
                hog.wait()
            load.close()
            for t in flooders:
                t.join(5)
        dropped = sum(a.get("frames_dropped", 0) - b.get("frames_dropped", 0)
                      for a, b in zip(after_docs, before_docs))
        written = sum(a.get("frames_written", 0) - b.get("frames_written", 0)
                      for a, b in zip(after_docs, before_docs))
        fps = [r for r, _ in rates(before_counts, after_counts)]
        alive = all(rig.procs.running[f"recorder{c}"].poll() is None for c in (0, 1))
    return {"dropped": float(dropped), "written": float(written), "viewer_fps": sum(fps) / len(fps),
            "viewer_fps_min": min(fps), "snapshots_per_s": snap_rate, "streamer_cpu": 100.0 * used / wall,
            "problems": "; ".join(errors + ([] if alive else ["a recorder exited"]))}


def run(quick: bool) -> list[Figure]:
    seconds = 15.0 if quick else 60.0
    runs = {nice: _one_run(nice, seconds) for nice in (0, MECHANISM_NICE)}
    with_, without = runs[MECHANISM_NICE], runs[0]
    note = f"{seconds:g} s, {VIEWERS} viewers of dual 720p, snapshot flood, {HOGS} CPU hogs"
    figs = [
        summarise(SECTION, f"frames dropped by both recorders, streamer nice {MECHANISM_NICE}",
                  [with_["dropped"]], "frames", target="== 0", check=lambda v: v == 0,
                  note=f"{note}; {with_['written']:.0f} frames written" +
                  (f"; {with_['problems']}" if with_["problems"] else "")),
        summarise(SECTION, "frames dropped by both recorders, streamer nice 0 (no mechanism)",
                  [without["dropped"]], "frames", note=f"{without['written']:.0f} frames written" +
                  (f"; {without['problems']}" if without["problems"] else "")),
        summarise(SECTION, f"live viewer fps, streamer nice {MECHANISM_NICE}", [with_["viewer_fps"]], "fps",
                  note=f"slowest viewer {with_['viewer_fps_min']:.1f} fps"),
        summarise(SECTION, "live viewer fps, streamer nice 0", [without["viewer_fps"]], "fps",
                  note=f"slowest viewer {without['viewer_fps_min']:.1f} fps"),
        summarise(SECTION, "cost: live viewer fps with / without the mechanism",
                  [with_["viewer_fps"] / without["viewer_fps"] if without["viewer_fps"] else float("nan")], "x"),
        summarise(SECTION, f"snapshots served, streamer nice {MECHANISM_NICE}", [with_["snapshots_per_s"]], "/s",
                  note=f"nice 0: {without['snapshots_per_s']:.1f}/s"),
        summarise(SECTION, f"streamer CPU, streamer nice {MECHANISM_NICE}", [with_["streamer_cpu"]], "%core",
                  note=f"nice 0: {without['streamer_cpu']:.0f} %core"),
    ]
    return figs


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
