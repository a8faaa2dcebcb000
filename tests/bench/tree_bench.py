"""The whole tree at work: CPU and memory of every process with both recorders on and
two viewers of dual 720p.

Started like supervisord would: capture 0 and 1, the streamer, recorder 0 and 1.  After a
warm-up, CPU time is read over several windows (each window is one run of the median) and
RSS at the end of each window.  RSS counts the ring pages a process maps; they exist once
in the machine, so the shared part is also shown separately.

    python -m tests.bench.tree_bench [--quick]
"""
from __future__ import annotations

import time

from common.state.board import StatusBoard
from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.bench.rig import CpuClock, Rig, memory_mb
from tests.bench.viewers import ViewerSet
from tests.support.procs import wait_until

SECTION = "tree"
PATH = "/stream?view=dual&res=720p"
PROCESSES = ("capture0", "capture1", "streamer", "recorder0", "recorder1")
RSS_LIMIT_MB = 60.0
CPU_LIMIT = 100.0   # %core: the whole tree under one core of this machine


def _recording(rig: Rig) -> bool:
    board = StatusBoard.for_config(rig.cfg)
    docs = [board.read(f"recorder-cam{cam}") for cam in (0, 1)]
    return all(doc is not None and doc.get("state") == "recording" for doc in docs)


def run(quick: bool) -> list[Figure]:
    windows, window_s, warmup_s = (2, 2.0, 1.0) if quick else (4, 4.0, 3.0)
    cpu: dict[str, list[float]] = {name: [] for name in PROCESSES}
    rss: dict[str, list[float]] = {name: [] for name in PROCESSES}
    shm: dict[str, list[float]] = {name: [] for name in PROCESSES}
    totals: list[float] = []
    problems: list[str] = []
    with Rig() as rig:
        rig.cameras(wait=False)   # as supervisord does: all at once, each waits for what it needs
        rig.streamer(wait=False)
        for cam in (0, 1):
            rig.recorder(cam)
        rig.wait_cameras()
        rig.wait_serving()
        try:
            wait_until(lambda: _recording(rig), 20.0, interval=0.2)
        except AssertionError:
            problems.append("recorders did not report state 'recording' within 20 s")
        load = ViewerSet.open(rig.port, PATH, 2, distinct=2)
        try:
            load.wait_streaming(15.0)
            time.sleep(warmup_s)
            for _ in range(windows):
                running = {name: rig.procs.running[name] for name in PROCESSES
                           if name in rig.procs.running and rig.procs.running[name].poll() is None}
                clocks = {name: CpuClock(proc.pid) for name, proc in running.items()}
                time.sleep(window_s)
                total = 0.0
                for name, clock in clocks.items():
                    used, wall = clock.elapsed()
                    cpu[name].append(100.0 * used / wall)
                    total += 100.0 * used / wall
                    mem, shared = memory_mb(running[name].pid)
                    rss[name].append(mem)
                    shm[name].append(shared)
                totals.append(total)
            if load.errors():
                problems.append("viewer errors: " + "; ".join(load.errors()))
        finally:
            load.close()
        for name in PROCESSES:
            proc = rig.procs.running.get(name)
            if proc is None or proc.poll() is not None or not cpu[name]:
                tail = " / ".join(rig.procs.log(name).strip().splitlines()[-2:])
                problems.append(f"{name} not running the whole time ({tail})")
    return _figures(cpu, rss, shm, totals, problems)


def _figures(cpu: dict[str, list[float]], rss: dict[str, list[float]], shm: dict[str, list[float]],
             totals: list[float], problems: list[str]) -> list[Figure]:
    note = "; ".join(problems)
    figs: list[Figure] = []
    for name in PROCESSES:
        figs.append(summarise(SECTION, f"{name} CPU", cpu[name], "%core"))
    for name in PROCESSES:
        ring_mb = max(shm[name]) if shm[name] else float("nan")
        figs.append(summarise(SECTION, f"{name} RSS", rss[name], "MB", target=f"<= {RSS_LIMIT_MB:g} MB",
                              check=lambda v: v <= RSS_LIMIT_MB,
                              note=f"{ring_mb:.0f} MB of it is shared memory (rings)" if shm[name] else ""))
    complete = not problems
    total = summarise(SECTION, "whole tree CPU", totals if complete else [], "%core",
                      target=f"< {CPU_LIMIT:g} %core", check=lambda v: v < CPU_LIMIT, note=note)
    if not complete and totals:
        total.extra["partial_median"] = sorted(totals)[len(totals) // 2]
    figs.append(total)
    figs.append(summarise(SECTION, "whole tree RSS",
                          [sum(r[i] for r in rss.values() if len(r) > i) for i in range(len(totals))], "MB"))
    return figs


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
