"""Recorder figures: encoder capacity, CPU and memory of recorders at 30 fps, MB per segment.

* Encoder capacity: 720p frames of the synthetic scene through the recorder's own segment
  writer (libx264 with the configured preset, tune and threads, into fragmented MP4) as
  fast as it goes, in frames per second and times real time (30 fps).
* Loop stalls: how long one recorder's loop keeps the ring waiting at a segment boundary
  (closing one segment, starting the next) and in the second after it, beside a frame's
  usual handling (:mod:`tests.bench.loop_stalls`).
* Recorders at work: two capture processes and two recorders (as supervisord runs them);
  each recorder's CPU share of one core over a window, its RSS, PSS and USS (no target:
  the memory target is the whole tree's PSS, in the ``tree`` section), and the size of a
  30 s segment (measured on full segments in the full run; in the quick run extrapolated
  from shorter segments' bytes per second).

``python -m tests.bench.recorder_bench [--quick]`` prints the figures as a table.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import av
import numpy as np

from common.config import load
from common.state.board import StatusBoard
from common.video.i420 import planes
from common.video.streams import STREAMS
from recorder.encode import settings as encoder
from tests.bench import loop_stalls
from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.bench.rig import CpuClock, Rig
from tests.support.encoding import OneFile
from tests.support.procs import wait_until
from tests.support.procstat import usage

SECTION = "recorder"
(W, H), FPS = STREAMS["hd"], 30
MB = 1_000_000


def synthetic_hd(count: int) -> list[np.ndarray]:
    """Distinct I420 frames of the synthetic camera (moving scene, sensor noise)."""
    from capture.sources.synthetic import SyntheticSource
    src = SyntheticSource(0, FPS, "street")
    out = []
    for n in range(count):
        data = np.empty((H * 3 // 2, W), np.uint8)
        src.hd.render(planes(data, W, H), n / FPS, n)
        out.append(data)
    return out


def encoder_capacity(frames: int, runs: int) -> tuple[list[float], list[float]]:
    """Frames per second and CPU ms per frame of the segment writer, encoding flat out."""
    cfg = load()
    settings = encoder.EncoderSettings.of(cfg.recorder, encoder.SOFTWARE, W, H, FPS)
    source = synthetic_hd(60)
    fps, cpu_ms = [], []
    with tempfile.TemporaryDirectory(prefix="sht-bench-rec-") as tmp:
        for run in range(runs):
            writer = OneFile(Path(tmp) / f"run{run}.mp4", settings, 0, "bench")
            c0, t0 = time.process_time(), time.perf_counter()
            for n in range(frames):
                writer.add(av.VideoFrame.from_ndarray(source[n % len(source)], format="yuv420p"),
                           int(n * 1e9 / FPS))
            writer.close()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            fps.append(frames / wall)
            cpu_ms.append(cpu / frames * 1000)
    return fps, cpu_ms


def recorders_at_work(quick: bool) -> dict[str, list[float]]:
    segment_s = 5 if quick else 30
    window_s, windows, settle_s = (3.0, 2, 1.5) if quick else (15.0, 3, 2.0)
    out: dict[str, list[float]] = {"cpu0": [], "cpu1": [], "total": [], "rss": [], "uss": [], "seg_mb": [],
                                   "dropped": [], "pss": []}
    with Rig(recorder__segment_seconds=segment_s) as rig:
        rig.cameras(2, wait=False)   # as supervisord does: the recorders wait for their rings
        for cam in (0, 1):
            rig.recorder(cam)
        rig.wait_cameras()
        board = StatusBoard.for_config(rig.cfg)

        def recording() -> bool:
            docs = [board.read(f"recorder-cam{cam}") for cam in (0, 1)]
            return all(d and d.get("state") == "recording" for d in docs)
        wait_until(recording, timeout=30)
        time.sleep(settle_s)   # past start-up (imports, first keyframes)
        pids = [rig.pid(f"recorder{cam}") for cam in (0, 1)]
        for _ in range(windows):
            clocks = [CpuClock(pid) for pid in pids]
            time.sleep(window_s)
            shares = []
            for cam, clock in enumerate(clocks):
                cpu, wall = clock.elapsed()
                shares.append(100.0 * cpu / wall)
                out[f"cpu{cam}"].append(shares[-1])
            out["total"].append(sum(shares))
            for mem in filter(None, map(usage, pids)):
                out["rss"].append(mem.rss_mb)
                out["uss"].append(mem.uss_mb)
                out["pss"].append(mem.pss_mb)
        # Segment size: full segments when there are some, else bytes per second of the ones closed.
        if not quick:
            wait_until(lambda: all(len(_full(board, cam, segment_s)) >= 1 for cam in (0, 1)), timeout=75)
        else:   # a segment closes within segment_s + 0.5 s of the start: usually already done
            wait_until(lambda: all(_closed(board, cam) for cam in (0, 1)), timeout=2 * segment_s + 5)
        for cam in (0, 1):
            doc = board.read(f"recorder-cam{cam}") or {}
            full = _full(board, cam, segment_s)
            closed = _closed(board, cam)
            if full:
                out["seg_mb"] += [s["bytes"] / MB * 30 / segment_s for s in full]
            elif closed:
                rate = sum(s["bytes"] for s in closed) / sum(s["duration_s"] for s in closed)
                out["seg_mb"].append(rate * 30 / MB)
            out["dropped"].append(float(doc.get("frames_dropped", 0)))
    return out


def _closed(board: StatusBoard, cam: int) -> list[dict]:
    """Segments closed so far, less any (first, clock-aligned) one too short to weigh."""
    doc = board.read(f"recorder-cam{cam}") or {}
    return [s for s in doc.get("recent_segments", []) if s["duration_s"] > 0.5]


def _full(board: StatusBoard, cam: int, segment_s: int) -> list[dict]:
    doc = board.read(f"recorder-cam{cam}") or {}
    return [s for s in doc.get("recent_segments", []) if abs(s["duration_s"] - segment_s) < 0.1]


def run(quick: bool) -> list[Figure]:
    frames, runs = (150, 2) if quick else (450, 3)
    fps, cpu_ms = encoder_capacity(frames, runs)
    figures = [
        summarise(SECTION, "encoder capacity 720p", fps, "fps",
                  note=f"segment writer flat out, {frames} frames x {runs} runs"),
        summarise(SECTION, "encoder capacity 720p / real time", [f / FPS for f in fps], "x",
                  note="wall clock: depends on what else the machine runs"),
        summarise(SECTION, "encode CPU per frame 720p", cpu_ms, "ms"),
        summarise(SECTION, "encoder capacity 720p per core / real time", [1000.0 / ms / FPS for ms in cpu_ms], "x",
                  note="from CPU time: frames one core encodes per second, over 30"),
    ]
    segment_s, boundaries = (3, 3) if quick else (10, 5)
    stalls = loop_stalls.measure(segment_s, boundaries)
    figures += [
        summarise(SECTION, "loop stall at a segment boundary", stalls["boundary"], "ms",
                  note=f"{boundaries} boundaries of {segment_s} s segments at 720p: end one, start the next, "
                       "encode its first frame (a keyframe)"),
        summarise(SECTION, "loop stall at a segment boundary, longest", [max(stalls["boundary"])], "ms",
                  "<= 30 ms", lambda v: v <= 30.0),
        summarise(SECTION, "loop stall 1 s after a boundary, longest",
                  [max(stalls["after"], default=0.0)], "ms", note="the old segment is finished in a worker then"),
        summarise(SECTION, "loop stall per frame elsewhere", stalls["other"], "ms",
                  note="median; a keyframe (one a second) takes longer, like a boundary's first frame"),
    ]
    work = recorders_at_work(quick)
    figures += [
        summarise(SECTION, "CPU of one recorder at 30 fps", work["cpu0"] + work["cpu1"], "%core",
                  note="both recorders' windows"),
        summarise(SECTION, "CPU of two recorders together", work["total"], "%core", "< 30 %core",
                  lambda v: v < 30.0),
        summarise(SECTION, "RSS per recorder", work["rss"], "MB", note="includes the mapped hd ring pages"),
        summarise(SECTION, "PSS per recorder", work["pss"], "MB",
                  note="proportional set size: shared library and ring pages divided among their users"),
        summarise(SECTION, "USS per recorder", work["uss"], "MB", note="memory only this process holds"),
        summarise(SECTION, "MB per 30 s segment", work["seg_mb"], "MB",
                  note="full 30 s segments" if not quick else "extrapolated from 5 s segments"),
        summarise(SECTION, "frames dropped by recorders", work["dropped"], "frames",
                  note="per recorder over the run; the ring lapped a recorder the machine did not schedule in time"),
    ]
    return figures


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
