"""Running the project's processes from tests: isolated names, ports and folders.

Every test system gets its own ring prefix, run folder, recordings folder and port, so
tests run beside each other and beside a live installation without touching it.
"""
from __future__ import annotations

import ctypes
import glob
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Self

import httpx

from common.ipc.frame_writer import RingWriter
from common.ipc.names import ring_name
from common.state.board import StatusBoard
from common.video.streams import STREAMS

REPO = Path(__file__).resolve().parents[2]   # tests/support/procs.py -> the repository


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the test process dies, even by SIGKILL,
    so a killed test run never leaves a camera system running behind it."""
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free TCP port below the kernel's ephemeral range.

    A port the kernel handed out for bind(0) comes from the ephemeral range, where any
    outgoing connection (tests make many) can take it before the server binds it.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randint(10000, max(10001, low - 1))
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PREFIXES: list[str] = []   # every prefix this process handed out, for remove_all_rings()


def unique_prefix() -> str:
    """A ring-name prefix no other test, run or live system uses."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    PREFIXES.append(prefix)
    return prefix


def remove_all_rings() -> None:
    """Remove what this process's test systems left in /dev/shm (rings, status documents,
    viewer tables), including those of code run in-process that published its status."""
    while PREFIXES:
        remove_rings(PREFIXES.pop())


def remove_dead_pending(since: float) -> None:
    """Remove the recorders' pending-rows files (named after their recordings root, not a
    prefix) written since ``since`` whose writer is gone: a test's root is gone with its test,
    and a file of a dead writer is never read again (:mod:`common.archive.pending`)."""
    for path in glob.glob("/dev/shm/sht-pending-*.json"):
        try:
            if os.stat(path).st_mtime < since:
                continue
            pid = json.loads(Path(path).read_text()).get("pid")
            if isinstance(pid, int) and pid > 0 and pid != os.getpid():
                try:
                    os.kill(pid, 0)
                    continue          # its writer runs
                except ProcessLookupError:
                    pass
            os.unlink(path)
        except (OSError, ValueError, AttributeError):
            continue


def remove_rings(prefix: str) -> None:
    """Remove every shared-memory ring (and every other file kept in memory) whose name starts with ``prefix``."""
    for path in glob.glob(f"/dev/shm/{prefix}*"):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def isolated_env(tmp: Path, **overrides: object) -> dict[str, str]:
    """Environment for one test system; ``overrides`` are SHT__ keys, e.g. recorder__segment_seconds=2."""
    tmp.mkdir(parents=True, exist_ok=True)
    empty = tmp / "empty.toml"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHT")}
    env.update({
        "SHT_CONFIG": str(empty),
        "SHT__RING__PREFIX": unique_prefix(),
        "SHT__CAMERA__SOURCE": "synthetic",
        "SHT__PATHS__RUN_DIR": str(tmp / "run"),
        "SHT__PATHS__LOG_DIR": str(tmp / "logs"),
        "SHT__RECORDER__ROOT": str(tmp / "rec"),
        "SHT__STREAMER__PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    })
    for key, value in overrides.items():
        section, name = key.split("__", 1)
        env[f"SHT__{section.upper()}__{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def status_board(env: dict[str, str]) -> StatusBoard:
    """The status documents of the test system configured by ``env``."""
    return StatusBoard(Path(env["SHT__PATHS__RUN_DIR"]), env["SHT__RING__PREFIX"])


class RingWriters:
    """Ring writers made in a test; every one is closed and its segment removed at the end."""

    def __init__(self) -> None:
        self._made: list[RingWriter] = []

    def __call__(self, name: str, width: int, height: int, slots: int = 4, source: str = "test",
                 camera_name: str = "", stale_seconds: float = 2.0) -> RingWriter:
        writer = RingWriter(name, width, height, slots, 30, source, camera_name, stale_seconds)
        self._made.append(writer)
        return writer

    def stream(self, prefix: str, camera: int, stream: str = "sd", slots: int = 4) -> RingWriter:
        """Camera ``camera``'s ``stream`` ring, named and sized as the capture process makes it."""
        w, h = STREAMS[stream]
        return self(ring_name(prefix, camera, stream), w, h, slots, "synthetic", f"CAM {camera}")

    def close(self) -> None:
        for writer in self._made:
            writer.close()


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> object:
    """Poll ``predicate`` until it returns a true value; raise AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class Procs:
    """Starts processes (``python -m ...``) and always cleans them and their rings up."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env or self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent)
        log.close()
        self.running[name] = proc
        return proc

    def capture(self, camera: int) -> subprocess.Popen:
        return self.start(f"capture{camera}", "-m", "capture", "--camera", str(camera))

    def start_streamer(self, *args: str, view: str = "0") -> subprocess.Popen:
        """Start the streamer and return once it serves view ``view`` at 480p."""
        proc = self.start("streamer", "-m", "streamer", *args)
        url = f"http://127.0.0.1:{self.env['SHT__STREAMER__PORT']}/stream?view={view}&res=480p"

        def serving() -> bool:
            try:
                return httpx.head(url, timeout=5).status_code == 200
            except httpx.HTTPError:
                return False
        wait_until(serving, 40, interval=0.2)
        return proc

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self, tail: int = 3000) -> str:
        """The end of every process's log, for a failure report."""
        return "\n".join(f"--- {path.stem}\n{path.read_text(errors='replace')[-tail:]}"
                         for path in sorted(self.log_dir.glob("*.log")))

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int | None:
        proc = self.running.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def kill(self, name: str) -> None:
        self.stop(name, signal.SIGKILL)

    def close(self) -> None:
        for name in list(self.running):
            self.stop(name)
        remove_rings(self.env["SHT__RING__PREFIX"])


class ProcessSystem:
    """A test system of processes, used as ``with system:`` in a fixture: closed at the end,
    and its processes' logs printed when starting it fails."""

    procs: Procs

    def close(self) -> None:
        self.procs.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if exc_type is not None and issubclass(exc_type, Exception):  # not a skip or an interrupt
                print(self.procs.logs())
        finally:
            self.close()
