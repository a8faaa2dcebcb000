"""The frame ring: publish and read cost, wake-up latency across processes, idle reader CPU.

    python -m tests.bench.ring_bench [--quick]

- publish: ``begin()`` + ``commit()`` per frame (capture renders into the slot in place,
  so this is the ring's own cost); ``publish()`` with a full frame copy is shown too.
- read: ``next_frame()`` + ``copy()`` (a reader that keeps the frame), and zero-copy
  (``next_frame()`` + ``valid()``: the frame used where it lies).
- wake-up: a writer process stamps ``mono_ns`` right before each commit at 30 fps; a
  reader process measures from that stamp to its return from ``next_frame()``.
- the machine's baseline: how late a plain 30 Hz timer wakes a process beside them (no
  ring), measured at the same time, half a period away from the writer's beats, so a
  wake-up tail caused by other load on the machine can be told from the ring's.
- memory fence: one :func:`common.process.fence.fence` call alone, and with another thread
  of the process busy on another core (the kernel then interrupts that core too); per frame
  the writer fences twice and each reader three times (both are inside the publish and
  read figures above).
- idle reader CPU: a reader blocked in ``next_frame()`` on a ring with no segment, a ring
  whose writer publishes nothing, and a live 30 fps ring (it wakes once per frame); the
  three cases run side by side, each reader in its own process.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import threading
import time
import uuid

import numpy as np
import posix_ipc
import psutil

from common.ipc.frame_reader import RingReader
from common.ipc.frame_writer import RingWriter
from common.process import fence
from common.video.i420 import planes
from common.video.streams import STREAMS
from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone

SECTION = "ring"
CTX = mp.get_context("fork")
PUBLISH_TARGET_MS = 0.2
WAKE_P99_TARGET_MS = 2.0


def _name(tag: str) -> str:
    return f"/b{uuid.uuid4().hex[:8]}_{tag}"


def _unlink(name: str) -> None:
    try:
        posix_ipc.unlink_shared_memory(name)
    except posix_ipc.ExistentialError:
        pass


# -- in-process costs --------------------------------------------------------------------------
def _costs(stream: str, runs: int, frames: int) -> list[Figure]:
    w, h = STREAMS[stream]
    name = _name(stream)
    writer = RingWriter(name, w, h, 8, 30, "bench")
    reader = RingReader(name)
    picture = np.random.default_rng(1).integers(0, 255, (h * 3 // 2, w), dtype=np.uint8)
    py, pu, pv = planes(picture, w, h)
    publish, publish_copy, read_copy, read_zero = [], [], [], []
    try:
        for plane in writer._views:  # touch every slot once, as a running writer has
            plane[3].fill(0)
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            for _ in range(frames):
                writer.begin()
                writer.commit(time.monotonic_ns(), time.time_ns())
            publish.append((time.perf_counter_ns() - t0) / frames / 1e6)
            t0 = time.perf_counter_ns()
            for _ in range(frames):
                writer.publish(py, pu, pv, time.monotonic_ns(), time.time_ns())
            publish_copy.append((time.perf_counter_ns() - t0) / frames / 1e6)
            spent_copy = spent_zero = 0
            for _ in range(frames):
                writer.begin()
                writer.commit(time.monotonic_ns(), time.time_ns())
                t0 = time.perf_counter_ns()
                frame = reader.next_frame(0.5)
                kept = frame.copy()
                spent_copy += time.perf_counter_ns() - t0
                assert kept is not None
                writer.begin()
                writer.commit(time.monotonic_ns(), time.time_ns())
                t0 = time.perf_counter_ns()
                frame = reader.next_frame(0.5)
                ok = frame.valid()
                spent_zero += time.perf_counter_ns() - t0
                assert ok
            read_copy.append(spent_copy / frames / 1e6)
            read_zero.append(spent_zero / frames / 1e6)
    finally:
        reader.close()
        writer.close()
    target = f"<= {PUBLISH_TARGET_MS:g} ms" if stream == "hd" else ""
    check = (lambda v: v <= PUBLISH_TARGET_MS) if stream == "hd" else None
    return [
        summarise(SECTION, f"publish {stream} (begin+commit)", publish, "ms", target, check,
                  note="capture fills the slot in place"),
        summarise(SECTION, f"publish {stream} with frame copy", publish_copy, "ms"),
        summarise(SECTION, f"read {stream} next_frame+copy", read_copy, "ms"),
        summarise(SECTION, f"read {stream} zero-copy", read_zero, "ms", note="next_frame + valid()"),
    ]


# -- the memory fence ------------------------------------------------------------------------
FENCES_PER_FRAME = 2 + 3     # the writer's, and one reader's (see common/ipc/frame_*.py)


def _fence_us(calls: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(calls):
        fence.fence()
    return (time.perf_counter_ns() - t0) / calls / 1e3


def _busy(stop: threading.Event) -> None:
    a = np.ones((256, 256))
    while not stop.is_set():
        a @ a   # numpy releases the GIL: this thread runs on another core meanwhile


def _fence_costs(runs: int, calls: int) -> list[Figure]:
    alone = [_fence_us(calls) for _ in range(runs)]
    stop = threading.Event()
    worker = threading.Thread(target=_busy, args=(stop,), daemon=True)
    worker.start()
    try:
        beside = [_fence_us(calls) for _ in range(runs)]
    finally:
        stop.set()
        worker.join()
    note = f"{fence.MECHANISM}; per frame: {FENCES_PER_FRAME} fences (writer 2, each reader 3)"
    return [summarise(SECTION, "memory fence", alone, "us", note=note),
            summarise(SECTION, "memory fence, a busy thread beside", beside, "us",
                      note="the kernel also interrupts the core running it"),
            summarise(SECTION, "memory fences per frame", [v * FENCES_PER_FRAME for v in alone], "us",
                      note="writer and one reader, single-threaded")]


# -- across processes --------------------------------------------------------------------------
def _paced_writer(name: str, fps: float, seconds: float, ready, publish: bool, start: float = 0.0,
                  stop=None) -> None:
    """Publish (or only heartbeat) at ``fps`` from monotonic time ``start`` (default: 0.2 s
    from now, to let the reader start waiting) for ``seconds`` or until ``stop`` is set."""
    w, h = STREAMS["hd"]
    writer = RingWriter(name, w, h, 8, fps, "bench")
    ready.set()
    period = 1.0 / fps
    next_t = start or time.monotonic() + 0.2
    end = next_t + seconds
    while time.monotonic() < end and not (stop is not None and stop.is_set()):
        next_t += period
        time.sleep(max(0.0, next_t - time.monotonic()))
        if publish:
            writer.begin()
            writer.commit(time.monotonic_ns(), time.time_ns())  # stamped right before publication
        else:
            writer.heartbeat()
    writer.close()


def _timer_latency(samples: int, start: float = 0.0) -> list[float]:
    """The machine's own wake-up latency in ms: oversleep of a 30 Hz timer, no ring involved."""
    out = []
    target = int((start or time.monotonic()) * 1e9)
    for _ in range(samples):
        target += 33_333_333
        time.sleep(max(0.0, (target - time.monotonic_ns()) / 1e9))
        out.append((time.monotonic_ns() - target) / 1e6)
    return out


def _timer_child(samples: int, start: float, conn) -> None:
    conn.send(_timer_latency(samples, start))
    conn.close()


def _wake_latency(samples: int) -> tuple[list[float], list[float]]:
    """Wake-up latencies in ms of a reader (this process) for a writer in another process,
    and the oversleep of a plain timer in a third process over the same seconds."""
    name = _name("wake")
    ready, stop = CTX.Event(), CTX.Event()
    period = 1.0 / 30.0
    start = time.monotonic() + 0.3   # both children forked and the reader waiting by then
    writer = CTX.Process(target=_paced_writer, args=(name, 30.0, samples * period + 2.0, ready, True, start, stop))
    writer.start()
    base_rx, base_tx = CTX.Pipe(duplex=False)
    # Half a period after each of the writer's beats: measured beside it, never competing with it.
    timer = CTX.Process(target=_timer_child, args=(samples, start + period / 2, base_tx))
    timer.start()
    base_tx.close()
    reader = RingReader(name)
    out: list[float] = []
    base: list[float] = []
    try:
        ready.wait(10)
        deadline = time.monotonic() + samples * period + 10
        while len(out) < samples and time.monotonic() < deadline:
            frame = reader.next_frame(1.0)
            woke = time.monotonic_ns()
            if frame is not None and frame.index > 0:
                out.append((woke - frame.mono_ns) / 1e6)
        if base_rx.poll(samples * period + 10):
            base = base_rx.recv()
    finally:
        stop.set()
        reader.close()
        writer.join(30)
        timer.join(30)
        base_rx.close()
        _unlink(name)
    return out, base


def cpu_ns(pid: int) -> int:
    """CPU time of a process in ns, from the scheduler's per-thread counters.

    psutil's cpu_times() counts in 10 ms ticks, too coarse for a reader that runs a few
    microseconds 30 times a second.
    """
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as fh:
                total += int(fh.read().split()[0])
    except (OSError, ValueError):
        t = psutil.Process(pid).cpu_times()
        return int((t.user + t.system) * 1e9)
    return total


def _idle_reader(name: str, seconds: float, ready, stop) -> None:
    """Wait for frames as a streamer or recorder does, until ``stop`` (at most ``seconds``)."""
    reader = RingReader(name)
    ready.set()
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop.is_set():
        reader.next_frame(min(1.0, max(0.01, end - time.monotonic())))
    reader.close()


def _readers_cpu(cases: tuple[str, ...], seconds: float) -> dict[str, float]:
    """%core of one reader process per case, waiting for frames for the same ``seconds``."""
    names = {case: _name("idle") for case in cases}
    stop = CTX.Event()
    writers, readers = [], {}
    try:
        for case in cases:
            if case != "no segment":
                wready = CTX.Event()
                writer = CTX.Process(target=_paced_writer,
                                     args=(names[case], 30.0, seconds + 10.0, wready, case == "live", 0.0, stop))
                writer.start()
                writers.append((writer, wready))
        for _, wready in writers:
            wready.wait(10)
        for case in cases:
            ready = CTX.Event()
            reader = CTX.Process(target=_idle_reader, args=(names[case], seconds + 10.0, ready, stop))
            reader.start()
            readers[case] = (reader, ready)
        for _, ready in readers.values():
            ready.wait(10)
        time.sleep(0.5)  # past attaching
        t0 = time.monotonic()
        c0 = {case: cpu_ns(reader.pid) for case, (reader, _) in readers.items()}
        time.sleep(seconds)
        c1 = {case: cpu_ns(reader.pid) for case, (reader, _) in readers.items()}
        wall = time.monotonic() - t0
        return {case: 100.0 * (c1[case] - c0[case]) / 1e9 / wall for case in cases}
    finally:
        stop.set()
        for reader, _ in readers.values():
            reader.join(seconds + 10)
        for writer, _ in writers:
            writer.join(seconds + 10)
        for name in names.values():
            _unlink(name)


def run(quick: bool) -> list[Figure]:
    runs, frames = (3, 200) if quick else (5, 1000)
    figs: list[Figure] = []
    for stream in ("hd", "sd"):
        figs += _costs(stream, runs, frames)
    figs += _fence_costs(runs, 2000 if quick else 20000)
    chunks, per_chunk = (2, 90) if quick else (3, 300)
    p50, p99, worst, base99 = [], [], [], []
    for _ in range(chunks):
        lat, base = (sorted(values) for values in _wake_latency(per_chunk))
        p50.append(statistics.median(lat))
        p99.append(lat[min(len(lat) - 1, int(0.99 * len(lat)))])
        worst.append(lat[-1])
        if base:
            base99.append(base[min(len(base) - 1, int(0.99 * len(base)))])
    figs.append(summarise(SECTION, "wake-up p50", p50, "ms", note=f"{per_chunk} frames at 30 fps per run"))
    load = os.getloadavg()[0]
    figs.append(summarise(SECTION, "wake-up p99", p99, "ms", f"<= {WAKE_P99_TARGET_MS:g} ms",
                          lambda v: v <= WAKE_P99_TARGET_MS,
                          note=f"worst single wake-up {max(worst):.2f} ms; load average {load:.1f} "
                               f"on {os.cpu_count()} cores"))
    figs.append(summarise(SECTION, "timer wake-up p99 (machine baseline)", base99, "ms",
                          note="a 30 Hz sleep's oversleep in a process beside the reader, same seconds: "
                               "what the scheduler alone costs"))
    seconds = 2.0 if quick else 5.0
    cases = ("no segment", "no frames", "live")
    values: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(1 if quick else 2):
        for case, value in _readers_cpu(cases, seconds).items():
            values[case].append(value)
    notes = {"no segment": "capture not running", "no frames": "writer alive, publishing nothing",
             "live": "30 fps; wakes once per frame, takes the newest"}
    for case in cases:
        figs.append(summarise(SECTION, f"idle reader CPU, {case}", values[case], "%core", note=notes[case]))
    return figs


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
