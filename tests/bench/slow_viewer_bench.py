"""A slow viewer must not slow the others: a fast viewer's rate alone and beside a slow one.

The slow viewer reads one part every 200 ms (5 fps) through a small receive buffer, from
another address.  The streamer should send it the newest frame whenever its socket
drains and leave the fast viewer at the camera's rate.

    python -m tests.bench.slow_viewer_bench [--quick]
"""
from __future__ import annotations

import time

from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.bench.rig import Rig
from tests.bench.viewers import Viewer, measure

SECTION = "slow_viewer"
PATH = "/stream?view=dual&res=720p"
SLOW_PERIOD_S = 0.2
KEEP = 0.9   # the fast viewer keeps at least 90% of the rate it has alone


def run(quick: bool) -> list[Figure]:
    repeats, window, settle = (1, 1.5, 0.6) if quick else (3, 4.0, 1.0)
    alone: list[float] = []
    beside: list[float] = []
    slow_fps: list[float] = []
    with Rig() as rig:
        rig.cameras(wait=False)
        rig.streamer(wait=False)
        rig.wait_cameras()
        rig.wait_serving()
        pid = rig.pid("streamer")
        for _ in range(repeats):
            alone.append(measure(pid, rig.port, PATH, 1, window, distinct=1, warmup_s=0.3).fps[0])
            slow = Viewer("127.0.0.1", rig.port, PATH, "127.0.0.3", period_s=SLOW_PERIOD_S, name="slow")
            slow.start()
            try:
                slow.ready.wait(10)
                if slow.error:
                    raise RuntimeError(f"slow viewer: {slow.error}")
                time.sleep(settle)   # let its socket buffers fill: the server now sees a slow reader
                first = slow.counts()
                beside.append(measure(pid, rig.port, PATH, 1, window, distinct=1, warmup_s=0.3).fps[0])
                last = slow.counts()
                slow_fps.append((last.parts - first.parts) / (last.at - first.at))
            finally:
                slow.stop()
                slow.join(3)
    ratios = [b / a for a, b in zip(alone, beside) if a > 0]
    return [
        summarise(SECTION, "fast viewer alone", alone, "fps"),
        summarise(SECTION, "fast viewer beside a 5 fps viewer", beside, "fps"),
        summarise(SECTION, "fast viewer beside / alone", ratios, "x", target=f">= {KEEP:g}x",
                  check=lambda v: v >= KEEP),
        summarise(SECTION, "slow viewer (reads every 200 ms)", slow_fps, "fps"),
    ]


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
