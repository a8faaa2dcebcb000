"""A system under test for the benchmarks, and the CPU and memory readings taken from it.

``Rig`` starts processes of one isolated system (own ring prefix, port, folders: it runs
beside a live installation) and stops them all on exit.  ``CpuClock`` reads the CPU time
a process and its children have used, so a CPU share is a difference of two readings.
Memory, open files and writes are read with :mod:`tests.support.procstat`.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from common.config import load
from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from tests.support.procs import Procs, free_port, isolated_env, wait_until


class Rig:
    """``with Rig(**overrides) as rig: rig.cameras(); rig.streamer(); ...``"""

    def __init__(self, **overrides: object) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="sht-bench-"))
        overrides.setdefault("streamer__host", "127.0.0.1")
        # The heaviest picture: the panning street with motion all the time, not the still default.
        overrides.setdefault("camera__synthetic_scene", "street")
        self.env = isolated_env(self.tmp / "sht", **overrides)
        self.cfg = load(self.env)
        self.procs = Procs(self.env, self.tmp / "logs")
        self.port = int(self.env["SHT__STREAMER__PORT"])
        self.ports: dict[str, int] = {}   # HTTP servers started, by process name
        self.camera_count = 0

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # Every process is asked to stop at once, so their shutdowns overlap; Procs then
        # kills any that did not end and removes the rings.
        running = [proc for proc in self.procs.running.values() if proc.poll() is None]
        for proc in running:
            try:
                proc.send_signal(signal.SIGTERM)
            except OSError:
                pass
        deadline = time.monotonic() + 5.0
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self.procs.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def pid(self, name: str) -> int:
        return self.procs.running[name].pid

    def _alive(self, name: str) -> None:
        proc = self.procs.running[name]
        if proc.poll() is not None:
            tail = self.procs.log(name).strip().splitlines()[-3:]
            raise RuntimeError(f"{name} exited with code {proc.returncode}: {' / '.join(tail)}")

    def cameras(self, count: int = 2, timeout: float = 30.0, wait: bool = True) -> None:
        """Capture processes on the synthetic source; with ``wait``, return when every ring is live."""
        for cam in range(count):
            self.procs.capture(cam)
        self.camera_count = count
        if wait:
            self.wait_cameras(timeout)

    def wait_cameras(self, timeout: float = 30.0) -> None:
        count = self.camera_count
        readers = [RingReader(ring_name(self.cfg.ring.prefix, cam, stream))
                   for cam in range(count) for stream in ("hd", "sd")]
        try:
            def live() -> bool:
                for cam in range(count):
                    self._alive(f"capture{cam}")
                return all(r.status().live(0.5) for r in readers)
            wait_until(live, timeout, interval=0.1)
        finally:
            for r in readers:
                r.close()

    def serve(self, name: str, args: list[str], port: int, timeout: float = 30.0, wait: bool = True) -> None:
        """Start an HTTP server process; with ``wait``, return once it accepts connections."""
        self.procs.start(name, *args)
        self.ports[name] = port
        if wait:
            self.wait_serving(timeout, name)

    def wait_serving(self, timeout: float = 30.0, *names: str) -> None:
        """Wait until the named servers (all started ones by default) accept connections."""
        pending = {n: self.ports[n] for n in (names or self.ports)}

        def accepting() -> bool:
            for name, port in list(pending.items()):
                self._alive(name)
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        del pending[name]
                except OSError:
                    pass
            return not pending
        wait_until(accepting, timeout, interval=0.1)

    def streamer(self, timeout: float = 30.0, wait: bool = True) -> None:
        self.serve("streamer", ["-m", "streamer"], self.port, timeout, wait)

    def peer(self, timeout: float = 30.0, wait: bool = True) -> int:
        port = free_port()
        self.serve("peer", ["-m", "tests.bench.peer_app", "--port", str(port)], port, timeout, wait)
        return port

    def recorder(self, camera: int) -> None:
        self.procs.start(f"recorder{camera}", "-m", "recorder", "--camera", str(camera))


def _family(pid: int) -> Iterator[psutil.Process]:
    try:
        proc = psutil.Process(pid)
        yield proc
        yield from proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return


def _task_ns(pid: int) -> tuple[frozenset[int], int] | None:
    """Thread ids and the nanoseconds they have run (scheduler statistics), or None."""
    total, tids = 0, set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                total += int(fh.read().split()[0])
            tids.add(int(tid))
    except (OSError, ValueError, IndexError):
        return None
    return frozenset(tids), total


def _ticks_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


class CpuClock:
    """CPU seconds used by a process and its children since the clock started.

    Nanosecond scheduler statistics of the threads alive at both readings, unless the
    process's user + system time (10 ms ticks, but it keeps the time of ended threads)
    says more ran than that: then a thread ended in between, and the ticks are used.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._start = self._read()
        self._t0 = time.monotonic()

    def _read(self) -> dict[int, tuple[float, tuple[frozenset[int], int] | None]]:
        out = {}
        for proc in _family(self.pid):
            try:
                out[proc.pid] = (_ticks_s(proc), _task_ns(proc.pid))
            except psutil.Error:
                pass
        return out

    def elapsed(self) -> tuple[float, float]:
        """(CPU seconds, wall seconds) since the start; processes started meanwhile count from 0."""
        now = self._read()
        wall = time.monotonic() - self._t0
        cpu = 0.0
        for pid, (ticks, tasks) in now.items():
            if pid not in self._start:
                cpu += ticks
                continue
            ticks0, tasks0 = self._start[pid]
            by_ticks = ticks - ticks0
            if tasks is not None and tasks0 is not None and tasks[0] == tasks0[0]:
                precise = (tasks[1] - tasks0[1]) / 1e9
                slack = 0.02 + 0.01 * len(tasks[0])   # tick accounting error
                cpu += by_ticks if by_ticks - precise > slack else precise
            else:
                cpu += by_ticks
        return cpu, wall
