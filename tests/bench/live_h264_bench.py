"""Low-data live view: the recorder's H.264 served as fragmented MP4 (``/live/{camera}.mp4``).

One camera at 720p30 on the synthetic scene, its recorder and the streamer.  Measured in
the same run: the stream's bandwidth and its ratio to MJPEG single 720p; the recorder's CPU
with 4 low-data viewers and with none (there is no second encode, so they should match);
the streamer's CPU per low-data viewer; capture to a fragment's last byte at the viewer;
and in Chromium, capture to the frame being presented.

Capture times come with the stream: a fragment's decode time is its capture time counted
from the epoch in the ``X-Capture-Epoch-Ms`` header, so a viewer on the same machine
compares them with its own wall clock; in the page, ``requestVideoFrameCallback`` gives the
``mediaTime`` of each presented frame.

Joining: a viewer starts at the newest keyframe, so the keyframe interval decides how much
it is sent at once and how far behind its first picture is.  For keyframes every 1, 2 and
4 s (the quick run: the default only), Chromium switches the low-data view off and on again
several times; the page's player times its request to its first picture shown and to its
first live picture (shown within 500 ms of its capture).

    python -m tests.bench.live_h264_bench [--quick]
"""
from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from common.config import load
from streamer.live.h264.fmp4 import TIMESCALE
from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.bench.rig import CpuClock, Rig
from tests.bench.viewers import ClientThread, addresses, measure
from tests.support.live_client import fragment_info
from tests.support.multipart import Dechunk

SECTION = "live_h264"
MAX_MBIT = 2.5
MAX_VIEWER_CORE = 1.0          # % of one core per low-data viewer
MAX_BYTE_P99_MS = 100.0
MAX_PRESENTED_P50_MS = 500.0


class LiveViewer(ClientThread):
    """One ``/live/0.mp4`` connection from its own address: bytes, fragments, latencies."""

    def __init__(self, port: int, source: str) -> None:
        super().__init__(f"live-{source}")
        self.port, self.source = port, source
        self.bytes = 0
        self.fragments = 0
        self.latencies: list[float] = []        # capture -> last byte of the fragment here, ms
        self._lock = threading.Lock()

    def reading(self) -> tuple[int, int, float]:
        with self._lock:
            return self.bytes, self.fragments, time.monotonic()

    def take_latencies(self) -> list[float]:
        with self._lock:
            out, self.latencies = self.latencies, []
        return out

    def _run(self) -> None:
        sock = socket.socket()
        sock.bind((self.source, 0))
        sock.settimeout(5)
        sock.connect(("127.0.0.1", self.port))
        sock.sendall(b"GET /live/0.mp4 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        raw, _, rest = head.partition(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        if int(lines[0].split()[1]) != 200:
            raise RuntimeError(lines[0])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        epoch_ms = float(headers["x-capture-epoch-ms"])
        dechunk, buf, moof_time = Dechunk(), bytearray(), None
        data = rest
        sock.settimeout(0.5)
        while not self._halt.is_set():
            buf += dechunk.feed(data)
            while len(buf) >= 8:
                size = int.from_bytes(buf[:4], "big")
                if len(buf) < size:
                    break
                kind = bytes(buf[4:8])
                if kind == b"moof":
                    moof_time = fragment_info(bytes(buf[:size]))[0]
                elif kind == b"mdat" and moof_time is not None:
                    late = time.time_ns() / 1e6 - (epoch_ms + moof_time * 1000.0 / TIMESCALE)
                    with self._lock:
                        self.fragments += 1
                        if len(self.latencies) < 10_000:
                            self.latencies.append(late)
                    self.ready.set()
                with self._lock:
                    self.bytes += size
                del buf[:size]
            try:
                data = sock.recv(65536)
            except TimeoutError:
                data = b""
                continue
            if not data:
                raise RuntimeError("the server ended the stream")
        sock.close()


def _open(port: int, n: int) -> list[LiveViewer]:
    viewers = [LiveViewer(port, addr) for addr in addresses(n, n)]
    for v in viewers:
        v.start()
    for v in viewers:
        if not v.ready.wait(15) or v.error:
            raise RuntimeError(f"low-data viewer {v.source}: {v.error or 'no fragment within 15 s'}")
    return viewers


def _close(viewers: list[LiveViewer]) -> None:
    for v in viewers:
        v.stop()
    for v in viewers:
        v.join(3)


def _cpu_window(pids: dict[str, int], window_s: float) -> dict[str, float]:
    """% of one core each process used over the window."""
    clocks = {name: CpuClock(pid) for name, pid in pids.items()}
    time.sleep(window_s)
    out = {}
    for name, clock in clocks.items():
        cpu, wall = clock.elapsed()
        out[name] = 100.0 * cpu / wall
    return out


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q / 100.0 * len(values)))]


@contextmanager
def _one_camera(**overrides: object) -> Iterator[Rig]:
    """One camera, its recorder and the streamer, all up."""
    with Rig(camera__count=1, **overrides) as rig:
        rig.cameras(count=1, wait=False)
        rig.recorder(0)
        rig.streamer(wait=False)
        rig.wait_cameras()
        rig.wait_serving()
        yield rig


def _page(browser: Any, port: int) -> Any:
    """The page on camera 0, its MJPEG playing."""
    page, _ = browser.page()
    page.goto(f"http://127.0.0.1:{port}/?view=0&res=480p")
    page.wait_for_function("() => document.getElementById('stage').dataset.state === 'playing'", timeout=20000)
    return page


def _browser_latency(port: int, seconds: float) -> tuple[float, float, str]:
    """(p50 ms, presented fps, note) of capture -> presented in headless Chromium."""
    from tests.support.browser import chromium, chromium_path
    if chromium_path() is None:
        return float("nan"), float("nan"), "Chromium is not installed"
    with chromium() as browser:
        page = _page(browser, port)
        page.click("#btn-lowdata")
        page.wait_for_function("() => window.SHT.lowdata.stats().length === 1"
                               " && window.SHT.lowdata.stats()[0].frames > 30", timeout=20000)
        page.wait_for_timeout(1000)
        first = page.evaluate("window.SHT.lowdata.stats()[0]")
        t0 = time.monotonic()
        page.wait_for_timeout(seconds * 1000)
        last = page.evaluate("window.SHT.lowdata.stats()[0]")
        fps = (last["frames"] - first["frames"]) / (time.monotonic() - t0)
        sampled = f"{last['samples']} frames sampled, {last['jumps']} jumps to the live edge"
        return float(last["latencyP50"]), fps, sampled


def join_times(keyframe_s: float, joins: int) -> tuple[list[float], list[float]]:
    """(request -> first picture, request -> first live picture) in ms, one per join."""
    from tests.support.browser import chromium, chromium_path
    if chromium_path() is None:
        return [], []
    first, live = [], []
    with _one_camera(recorder__keyframe_seconds=keyframe_s) as rig, chromium() as browser:
        page = _page(browser, rig.port)
        for n in range(joins + 1):
            page.click("#btn-lowdata")            # on: a new player asks for the stream
            page.wait_for_function("() => window.SHT.lowdata.stats().length === 1"
                                   " && window.SHT.lowdata.stats()[0].liveMs !== null", timeout=20000)
            got = page.evaluate("window.SHT.lowdata.stats()[0]")
            if n:   # the first join also waited for the recorder's first keyframes
                first.append(float(got["joinMs"]))
                live.append(float(got["liveMs"]))
            page.click("#btn-lowdata")            # off
            page.wait_for_timeout(300 + 700 * keyframe_s * (n % 3) / 3)   # joins land all over the interval
    return first, live


def run(quick: bool) -> list[Figure]:
    repeats, window = (1, 3.0) if quick else (3, 6.0)
    h264_mbit, mjpeg_mbit, ratio = [], [], []
    rec_idle, rec_four, str_idle, str_one, str_four = [], [], [], [], []
    byte_lat: list[float] = []
    with _one_camera() as rig:
        pids = {"recorder": rig.pid("recorder0"), "streamer": rig.pid("streamer")}
        time.sleep(2.0)   # the recorder's first segment is open and its encoder warm
        for _ in range(repeats):
            idle = _cpu_window(pids, window)
            rec_idle.append(idle["recorder"])
            str_idle.append(idle["streamer"])
            one = _open(rig.port, 1)
            try:
                time.sleep(1.0)
                one[0].take_latencies()   # a new viewer's first fragments are its start's catch-up
                b0, _, t0 = one[0].reading()
                cpu = _cpu_window(pids, window)
                b1, _, t1 = one[0].reading()
                str_one.append(cpu["streamer"])
                byte_lat += one[0].take_latencies()
                h264_mbit.append((b1 - b0) * 8 / (t1 - t0) / 1e6)
            finally:
                _close(one)
            four = _open(rig.port, 4)
            try:
                time.sleep(1.0)
                for v in four:
                    v.take_latencies()   # a new viewer's first fragments are its start's catch-up
                cpu = _cpu_window(pids, window)
                rec_four.append(cpu["recorder"])
                str_four.append(cpu["streamer"])
                byte_lat += [x for v in four for x in v.take_latencies()]
            finally:
                _close(four)
            mj = measure(pids["streamer"], rig.port, "/stream?view=0&res=720p", 1, window, distinct=1, warmup_s=0.5)
            mjpeg_mbit.append(mj.avg_bytes * mj.fps[0] * 8 / 1e6)
            ratio.append(h264_mbit[-1] / mjpeg_mbit[-1] if mjpeg_mbit[-1] else float("nan"))
        try:
            p50, presented_fps, note = _browser_latency(rig.port, 3.0 if quick else 8.0)
        except Exception as exc:
            p50, presented_fps, note = float("nan"), float("nan"), f"{type(exc).__name__}: {exc}"
    per_viewer = [(f - o) / 3 for f, o in zip(str_four, str_one)]
    feed = [o - i for o, i in zip(str_one, str_idle)]
    rec_delta = [f - i for f, i in zip(rec_four, rec_idle)]
    figs = [
        summarise(SECTION, "bandwidth per camera, 720p30", h264_mbit, "Mbit/s", target=f"<= {MAX_MBIT:g} Mbit/s",
                  check=lambda v: v <= MAX_MBIT),
        summarise(SECTION, "MJPEG single 720p, same run", mjpeg_mbit, "Mbit/s"),
        summarise(SECTION, "low data / MJPEG bandwidth", ratio, "x"),
        summarise(SECTION, "recorder CPU, no low-data viewer", rec_idle, "%core"),
        summarise(SECTION, "recorder CPU, 4 low-data viewers", rec_four, "%core"),
        summarise(SECTION, "recorder CPU, 4 viewers - none", rec_delta, "%core",
                  note="no second encode: the same work within noise"),
        summarise(SECTION, "streamer CPU, camera feed (first viewer - none)", feed, "%core"),
        summarise(SECTION, "streamer CPU per low-data viewer ((4 - 1) / 3)", per_viewer, "%core",
                  target=f"<= {MAX_VIEWER_CORE:g} %core", check=lambda v: v <= MAX_VIEWER_CORE),
        summarise(SECTION, "capture -> fragment last byte p99", [_percentile(byte_lat, 99)], "ms",
                  target=f"<= {MAX_BYTE_P99_MS:g} ms", check=lambda v: v <= MAX_BYTE_P99_MS,
                  note=f"p50 {_percentile(byte_lat, 50):.1f} ms over {len(byte_lat)} fragments"),
        summarise(SECTION, "Chromium capture -> presented p50", [] if p50 != p50 else [p50], "ms",
                  target=f"<= {MAX_PRESENTED_P50_MS:g} ms", check=lambda v: v <= MAX_PRESENTED_P50_MS,
                  note=note + (f"; {presented_fps:.1f} presented fps" if presented_fps == presented_fps else "")),
    ]
    if rec_idle and statistics.median(rec_idle) > 0:
        figs[5].extra["ratio"] = statistics.median(rec_four) / statistics.median(rec_idle)
    default_s = load().recorder.keyframe_seconds
    for keyframe_s in ([default_s] if quick else [1.0, 2.0, 4.0]):
        try:
            first, live = join_times(keyframe_s, 4 if quick else 10)
            note = f"{len(first)} joins" if first else "Chromium is not installed"
        except Exception as exc:
            first, live, note = [], [], f"{type(exc).__name__}: {exc}"
        tag = f"keyframe every {keyframe_s:g} s" + (" (default)" if keyframe_s == default_s else "")
        for what, values in (("first picture", first), ("first live picture", live)):
            for q in (50, 95):
                figs.append(summarise(SECTION, f"Chromium join, {tag}: request -> {what} p{q}",
                                      [_percentile(values, q)] if values else [], "ms", note=note))
    return figs


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
