"""Our streamer against the naive MJPEG server, on the same frames, in the same run.

Both serve dual 720p (2560x720) from the same two capture processes to 1, 2 and 4
viewers; for each, the server's CPU time is divided by the frames its viewers received.
The ratio naive / ours is the figure: it does not depend on how fast or busy the machine is.

4 viewers use 2 loopback addresses with 2 connections each, so the streamer's default
limit of 2 viewers (addresses) per resolution admits them all.

    python -m tests.bench.peer_bench [--quick]
"""
from __future__ import annotations

import math
import statistics
import time

from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.bench.rig import Rig
from tests.bench.viewers import Load, measure

SECTION = "peer"
VIEWERS = (1, 2, 4)
PATH = "/stream?view=dual&res=720p"
TARGET_RATIO = 3.0      # at least 3x less CPU per delivered frame than the naive server, at 2 viewers
TARGET_AT = 2


def _measure_all(quick: bool) -> tuple[dict[tuple[str, int], list[Load]], str]:
    repeats, window, warmup = (1, 1.0, 0.3) if quick else (3, 4.0, 1.0)
    loads: dict[tuple[str, int], list[Load]] = {(who, n): [] for who in ("naive", "ours") for n in VIEWERS}
    with Rig() as rig:
        rig.cameras(wait=False)   # everything starts at once; the servers attach to the rings by themselves
        peer_port = rig.peer(wait=False)
        rig.streamer(wait=False)
        rig.wait_cameras()
        rig.wait_serving(30.0, "peer")
        servers = {"naive": (rig.pid("peer"), peer_port)}
        ours_error = ""
        try:
            rig.wait_serving(30.0, "streamer")
            servers["ours"] = (rig.pid("streamer"), rig.port)
        except Exception as exc:
            ours_error = f"streamer did not start: {exc}"
        for _ in range(repeats):
            for n in VIEWERS:
                for who, (pid, port) in servers.items():
                    loads[who, n].append(measure(pid, port, PATH, n, window, warmup_s=warmup))
                    time.sleep(0.2)
    return loads, ours_error


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _explain(loads: dict[tuple[str, int], list[Load]]) -> str:
    """What the ratio at the target is made of, in this run's own figures."""
    naive = _median([r.cpu_ms_per_frame for r in loads["naive", TARGET_AT]])
    one = _median([r.cpu_ms_per_frame for r in loads["ours", 1]])
    two = _median([r.cpu_ms_per_frame * TARGET_AT for r in loads["ours", TARGET_AT]])
    if any(math.isnan(v) for v in (naive, one, two)):
        return ""
    return (f"naive {naive:.2f} ms per frame per viewer; ours {one:.2f} ms per picture with 1 viewer, "
            f"{two:.2f} ms with {TARGET_AT} ({two - one:+.2f} ms per extra viewer); {TARGET_RATIO:g}x at "
            f"{TARGET_AT} viewers needs ours <= {naive / TARGET_RATIO:.2f} ms per delivered frame")


def figures_from(loads: dict[tuple[str, int], list[Load]], note: str = "") -> list[Figure]:
    note = note or _explain(loads)
    figs: list[Figure] = []
    for n in VIEWERS:
        naive, ours = loads["naive", n], loads["ours", n]
        for who, runs in (("naive", naive), ("ours", ours)):
            figs.append(summarise(SECTION, f"{who}: CPU per delivered frame, {n} viewer(s)",
                                  [r.cpu_ms_per_frame for r in runs], "ms"))
            figs.append(summarise(SECTION, f"{who}: CPU, {n} viewer(s)", [100 * r.cpu_share for r in runs],
                                  "%core"))
            figs.append(summarise(SECTION, f"{who}: fps per viewer, {n} viewer(s)",
                                  [sum(r.fps) / len(r.fps) for r in runs], "fps"))
        # Ratios pair the runs of one repeat, which were measured seconds apart.
        ratios = [a.cpu_ms_per_frame / b.cpu_ms_per_frame for a, b in zip(naive, ours) if b.cpu_ms_per_frame > 0]
        if n == TARGET_AT:
            figs.append(summarise(SECTION, f"naive / ours CPU per frame, {n} viewer(s)", ratios, "x",
                                  target=f">= {TARGET_RATIO:g}x", check=lambda v: v >= TARGET_RATIO, note=note))
        else:
            figs.append(summarise(SECTION, f"naive / ours CPU per frame, {n} viewer(s)", ratios, "x"))
    for who in ("naive", "ours"):
        sizes = [r.avg_bytes / 1024 for n in VIEWERS for r in loads[who, n] if r.avg_bytes]
        figs.append(summarise(SECTION, f"{who}: JPEG size", sizes, "KB",
                              note="same quality (80); a fair comparison encodes pictures of similar size"
                              if who == "naive" else ""))
    return figs


def run(quick: bool) -> list[Figure]:
    loads, error = _measure_all(quick)
    return figures_from(loads, error)


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
