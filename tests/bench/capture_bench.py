"""One capture process on the synthetic camera: CPU, memory, frame rate, picture weight.

    python -m tests.bench.capture_bench [--quick]

CPU is read from the scheduler's counters over several windows (each window one run of
the median), memory at the end of each window: RSS (the rings' shared pages are part of
it, shown in the note), and USS, what only this process holds (the memory target is the
whole tree's PSS, in the ``tree`` section).  The JPEG size of an sd frame at q80 shows whether the
synthetic picture weighs what a camera's does (the streamer's cost depends on it).
"""
from __future__ import annotations

import time

import numpy as np
import simplejpeg

from capture.sources.synthetic import SyntheticSource
from common.clock import Pacer
from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from common.video.i420 import frame_bytes, planes
from common.video.streams import STREAMS
from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.bench.rig import Rig
from tests.bench.ring_bench import cpu_ns
from tests.support.procstat import usage

SECTION = "capture"
CPU_LIMIT = 10.0     # %core per camera on the synthetic source


def _jpeg_sizes(frames: int) -> list[float]:
    src = SyntheticSource(0, 30, "street")
    src._pacer = Pacer(1000)  # render back to back; pacing is not measured here
    hd, sd = (planes(np.zeros(frame_bytes(w, h), np.uint8), w, h) for w, h in (STREAMS["hd"], STREAMS["sd"]))
    sizes = []
    for _ in range(frames):
        src.capture(1.0).fill(hd, sd)
        sizes.append(len(simplejpeg.encode_jpeg_yuv_planes(*sd, quality=80)) / 1024)
    return sizes


def run(quick: bool) -> list[Figure]:
    windows, window_s, warmup_s = (2, 2.0, 1.0) if quick else (3, 3.5, 3.0)
    cpu, rss, shm, uss, fps, drops = [], [], [], [], [], []
    with Rig() as rig:
        rig.cameras(count=1)
        pid = rig.pid("capture0")
        reader = RingReader(ring_name(rig.cfg.ring.prefix, 0, "hd"))
        try:
            time.sleep(warmup_s)
            for _ in range(windows):
                t0, c0, i0 = time.monotonic(), cpu_ns(pid), reader.status().last_index
                time.sleep(window_s)
                wall = time.monotonic() - t0
                cpu.append(100.0 * (cpu_ns(pid) - c0) / 1e9 / wall)
                st = reader.status()
                fps.append((st.last_index - i0) / wall)
                drops.append(st.drops)
                mem = usage(pid)
                if mem is not None:
                    rss.append(mem.rss_mb)
                    shm.append(mem.shm_mb)
                    uss.append(mem.uss_mb)
        finally:
            reader.close()
    ring_mb = max(shm, default=float("nan"))
    return [
        summarise(SECTION, "synthetic capture CPU", cpu, "%core", f"<= {CPU_LIMIT:g} %core",
                  lambda v: v <= CPU_LIMIT, note="one camera, hd+sd rings, overlay on, 30 fps"),
        summarise(SECTION, "capture RSS", rss, "MB", note=f"{ring_mb:.0f} MB of it is the rings' shared memory"),
        summarise(SECTION, "capture USS", uss, "MB", note="memory only this process holds"),
        summarise(SECTION, "frame rate", fps, "fps", note=f"source drops counted: {max(drops)}"),
        summarise(SECTION, "sd JPEG q80 size", _jpeg_sizes(10 if quick else 60), "KB", "20 to 60 KB",
                  lambda v: 20 <= v <= 60),
    ]


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
