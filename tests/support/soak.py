"""The soak: the whole tree under a real supervisord for N minutes, with retention at work on a
small real disk, viewers of every kind coming and going, and a ``kill -9`` of a random program
every 5 minutes (one in the middle of a run shorter than that).

An installation (:mod:`tests.support.install`) gets a tmpfs of ``DISK_MB`` as its ``videos/``
folder, small enough that retention deletes within the first minute and then all the time.
After a warm-up (until retention has deleted something), every program's memory and open
files are read with no viewer connected; the soak then runs for N minutes while a monitor
thread records the recorders' dropped-frame counters, every segment the archive index lists
(so a segment retention deleted later still counts) and each program's memory; at the end,
with the viewers gone again, the programs are read once more and ``/api/health`` is asked.
:mod:`tests.support.soak_report` turns what was recorded into figures and verdicts.
"""
from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from common.archive.index import ArchiveIndex, Recording
from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from common.state.board import StatusBoard, recorder_status_name
from streamer.live.mjpeg.encoder import LINGER_S
from tests.support.install import PROGRAMS, Install, make_install, start_daemon, stop_daemon
from tests.support.mounts import cannot_mount, small_tmpfs
from tests.support.procstat import Usage, usage
from tests.support.soak_report import Kill, Sample, SoakReport, build_report
from tests.support.viewer_churn import Churn

# The disk, in MB of 10^6 bytes (the settings' unit): 16 MiB is 16.8 MB.  Two street cameras
# write about 0.08 MB/s (4 s segments of about 165 kB each), so the floor (7 MB free) comes
# after about two minutes: retention then deletes whenever more than 9.8 MB is taken, down to
# 7.8 MB (9 MB free).  What it must keep: the window, 36 s of each camera (0.01 h): ten
# segments, 3.3 MB for both; the two open segments, 0.4 MB; the databases, at most 3 MB
# (each write-ahead log is cut back to 1 MB: events.sqlite and recordings.sqlite, with their
# main files of an hour's rows and event pictures).  6.7 MB in all: 3 MB under the floor, so
# free space never has to take the window and health stays honest at the end, while about
# 2 MB of older segments are deleted every half minute, all through the hour.
DISK_MB = 16
RECORDER_TOML = """check_seconds = 2
disk_warn_gb = 0.006
free_floor_gb = 0.007
free_target_gb = 0.009
keep_continuous_hours = 0.01

[camera]
synthetic_scene = "street"
"""
KILL_EVERY_S = 300
UP_TIMEOUT_S = 90.0
BACK_TIMEOUT_S = 60.0
WARMUP_MAX_S = 210.0        # the floor comes after about two minutes of recording
# After the viewers left, before each quiet reading: the streamer's encoders without viewers
# linger, then are reaped within a second, so both readings find them gone.
SETTLE_S = LINGER_S + 3.0
SAMPLE_S = 1.0               # recorder counters; the index every 2 samples, memory every 15
Say = Callable[[str], None]


def soak_toml() -> str:
    """The installation's settings: retention on the small disk, a busy scene."""
    # The disk holds a minute or two: the window of continuous recording must fit in it; the
    # street scene moves all the time, so the disk fills and motion works throughout.
    return RECORDER_TOML


def kill_times(minutes: float) -> list[float]:
    """Seconds into the soak at which a program is killed."""
    span = minutes * 60
    if span <= KILL_EVERY_S:
        return [span / 2]
    return [float(t) for t in range(KILL_EVERY_S, int(span - 60) + 1, KILL_EVERY_S)]


@dataclass
class Monitor:
    """What the soak records while it runs (a thread of its own)."""

    install: Install
    board: StatusBoard
    index: ArchiveIndex
    samples: list[Sample] = field(default_factory=list)      # the recorders' counters
    captured: list[Sample] = field(default_factory=list)     # frames each capture missed (``dropped``)
    rings: dict[int, RingReader] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)          # the machine's 1-minute load average
    rows: dict[int, dict[str, Recording]] = field(default_factory=lambda: {0: {}, 1: {}})
    memory: dict[tuple[str, int], list[tuple[float, Usage]]] = field(default_factory=dict)
    _halt: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="soak-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(10)
        self.look_at_index()
        for ring in self.rings.values():
            ring.close()

    def _run(self) -> None:
        n = 0
        while not self._halt.wait(SAMPLE_S):
            now = time.time()
            for cam in (0, 1):
                doc = self.board.read(recorder_status_name(cam)) or {}
                if doc.get("age_s", 99) < 3 and doc.get("pid"):
                    self.samples.append(Sample(now, cam, int(doc["pid"]), int(doc.get("frames_dropped", 0)),
                                               int(doc.get("retention_deleted_count", 0))))
                ring = self.rings.setdefault(cam, RingReader(ring_name(self.install.prefix, cam, "hd")))
                st = ring.status()
                if st.writer_alive:
                    self.captured.append(Sample(now, cam, st.writer_pid, st.drops, 0))
            if n % 2 == 0:
                self.look_at_index()
            if n % 15 == 0:
                self.read_memory(now)
            n += 1

    def look_at_index(self) -> None:
        for cam, seen in self.rows.items():
            since = max((r.start for r in seen.values()), default=0.0) - 120
            for rec in self.index.starting(cam, since):
                seen[rec.file] = rec

    def read_memory(self, now: float) -> None:
        self.load.append(os.getloadavg()[0])
        for name, (state, pid) in self.install.status().items():
            reading = usage(pid) if state == "RUNNING" and pid else None
            if reading is not None:
                self.memory.setdefault((name, pid), []).append((now, reading))


class Soak:
    def __init__(self, install: Install, minutes: float, seed: int, say: Say) -> None:
        self.install, self.minutes, self.seed, self.say = install, minutes, seed, say
        self.rng = random.Random(seed)
        self.board = StatusBoard(install.root / "run", install.prefix)
        self.root = install.root / "videos" / "cam_rec"
        self.url = f"http://127.0.0.1:{install.port}"
        self.kills: list[Kill] = []

    def run(self) -> SoakReport:
        self._wait(self._up, UP_TIMEOUT_S, "the tree did not come up (all RUNNING, both recorders recording)")
        monitor = Monitor(self.install, self.board, ArchiveIndex(self.root))
        churn = Churn(self.install.port, self.seed)
        monitor.start()
        churn.start()
        self.say(f"up; warming up until retention deletes (at most {WARMUP_MAX_S:.0f} s)")
        self._wait(lambda: self._deleted(monitor), WARMUP_MAX_S, "")
        churn.pause()
        self._health()   # the streamer opens the archive index when first asked: before, not between, the readings
        time.sleep(SETTLE_S)
        first = self._readings()
        started = time.time()
        monitor.load.clear()   # the load during the soak proper
        churn.resume()
        self.say(f"soak: {self.minutes:g} min, kills at {[round(t) for t in kill_times(self.minutes)]} s, "
                 f"seed {self.seed}")
        for at in kill_times(self.minutes):
            time.sleep(max(0.0, started + at - time.time()))
            self._kill(self.rng.choice(PROGRAMS))
        time.sleep(max(0.0, started + self.minutes * 60 - time.time()))
        churn.stop()
        time.sleep(SETTLE_S)
        last = self._readings()
        health = self._health()
        monitor.read_memory(time.time())
        monitor.stop()
        logs = {name: _read(self.install.root / "logs" / f"{name}.log") for name in PROGRAMS}
        return build_report(self.minutes, self.seed, started, monitor.load, first, last, self.kills, monitor.samples,
                            monitor.captured,
                            monitor.rows, monitor.memory, churn.visits, health, logs, DISK_MB)

    # -- the tree's state ----------------------------------------------------------------------
    def _up(self) -> bool:
        st = self.install.all_running()
        return bool(st) and all((self.board.read(recorder_status_name(c)) or {}).get("state") == "recording"
                                for c in (0, 1)) and self._answers()

    def _answers(self) -> bool:
        try:
            return httpx.get(self.url + "/api/status", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def _deleted(self, monitor: Monitor) -> bool:
        return any(s.deleted for s in monitor.samples)

    def _readings(self) -> dict[str, tuple[int, Usage | None]]:
        return {name: (pid, usage(pid) if pid else None) for name, (_, pid) in self.install.status().items()}

    def _health(self) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while True:
            try:
                return dict(httpx.get(self.url + "/api/health", timeout=10).json())
            except (httpx.HTTPError, ValueError) as exc:
                if time.monotonic() > deadline:
                    return {"status": "unknown", "reasons": [f"/api/health did not answer: {exc}"]}
                time.sleep(1)

    # -- kills ---------------------------------------------------------------------------------
    def _kill(self, program: str) -> None:
        _, pid = self.install.status().get(program, ("", 0))
        if not pid:
            self.say(f"{program} is not running: not killed")
            return
        doc = (self.board.read(recorder_status_name(int(program[-1]))) or {}) if program.startswith("capture") else {}
        kill = Kill(program, pid, time.time())
        os.kill(pid, signal.SIGKILL)
        self.kills.append(kill)
        if self._wait(lambda: self._back(program, pid, doc.get("current_file")), BACK_TIMEOUT_S, ""):
            kill.back = time.time()
        self.say(f"kill -9 {program} (pid {pid}): " +
                 (f"back after {kill.back - kill.at:.1f} s" if kill.back else f"not back within {BACK_TIMEOUT_S:g} s"))

    def _back(self, program: str, old_pid: int, old_file: str | None) -> bool:
        state, pid = self.install.status().get(program, ("", 0))
        if state != "RUNNING" or pid in (0, old_pid):
            return False
        if program == "streamer":
            return self._answers()
        if program == "motion":
            return (self.board.read("motion") or {}).get("pid") == pid
        doc = self.board.read(recorder_status_name(int(program[-1]))) or {}
        if doc.get("state") != "recording":
            return False
        if program.startswith("rec_"):
            return doc.get("pid") == pid
        return doc.get("current_file") not in (None, old_file)   # recording the new capture's frames

    @staticmethod
    def _wait(done: Callable[[], bool], timeout: float, failure: str) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                if failure:
                    raise RuntimeError(failure)
                return False
            time.sleep(0.2)
        return True


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def run_soak(minutes: float, seed: int, tmp: Path, say: Say = print) -> SoakReport:
    """Install the tree under ``tmp``, soak it for ``minutes`` and return what was measured."""
    why = cannot_mount()
    if why:
        raise RuntimeError(f"the soak needs a small tmpfs for the recordings: {why}")
    install = make_install(tmp, soak_toml())   # and its 4 s segments: many boundaries a minute
    with small_tmpfs(install.root / "videos", DISK_MB):
        start_daemon(install)
        try:
            return Soak(install, minutes, seed, say).run()
        finally:
            stop_daemon(install)
