"""Load for the benchmarks: MJPEG viewers that read with raw sockets and count what arrives.

A viewer is a thread with one TCP connection, bound to its own loopback address
(127.0.0.2, 127.0.0.3, ...) because the streamer counts viewers by address.  It parses the
HTTP response (chunked or not) and the multipart parts with :mod:`tests.support.multipart`, and
counts parts and payload bytes.  It costs little CPU: payload bytes are counted, never
copied or decoded.

A slow viewer (``period_s=0.2``) consumes one part every 200 ms with a small receive
buffer, so the server sees a client whose socket drains at 5 frames per second.
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

from tests.support.multipart import Dechunk, Multipart


@dataclass
class Counts:
    parts: int
    payload_bytes: int
    at: float  # time.monotonic() of the reading


class ClientThread(threading.Thread):
    """A benchmark client on a thread of its own.  ``_run()`` does its work; what it raises is
    kept in ``error`` (unless the client was stopped), and ``ready`` is set once it streams,
    or when it ends at the latest."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.error = ""
        self.ready = threading.Event()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:
            if not self._halt.is_set():
                self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._ended()
            self.ready.set()

    def _run(self) -> None:
        raise NotImplementedError

    def _ended(self) -> None:
        """Release what ``_run`` left open."""


class Viewer(ClientThread):
    """One MJPEG connection: ``GET path`` on ``host:port`` from ``local_address``."""

    def __init__(self, host: str, port: int, path: str, local_address: str = "127.0.0.2",
                 period_s: float = 0.0, name: str = "", headers: str = "") -> None:
        super().__init__(name or f"viewer-{local_address}")
        self.addr = (host, port)
        self.headers = headers   # extra request header lines, each ending in CRLF
        self.path = path
        self.local_address = local_address
        self.period_s = period_s
        self.status = 0
        self._mp: Multipart | None = None
        self._sock: socket.socket | None = None

    def counts(self) -> Counts:
        mp = self._mp
        return Counts(mp.parts if mp else 0, mp.payload_bytes if mp else 0, time.monotonic())

    def stop(self) -> None:
        super().stop()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)   # wakes a recv() at once
            except OSError:
                pass

    def _ended(self) -> None:
        if self._sock is not None:
            self._sock.close()

    def _run(self) -> None:
        sock = self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.period_s:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        sock.bind((self.local_address, 0))
        sock.settimeout(5.0)
        sock.connect(self.addr)
        sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: {self.addr[0]}:{self.addr[1]}\r\n"
                     f"{self.headers}Connection: close\r\n\r\n".encode())
        sock.settimeout(0.5)
        head = bytearray()
        while b"\r\n\r\n" not in head:
            data = self._recv(sock, 65536)
            if data is None:
                return
            head += data
        raw, _, rest = bytes(head).partition(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if self.status != 200:
            self.error = f"HTTP {self.status}"
            self.ready.set()
            return
        ctype = headers.get("content-type", "")
        boundary = ctype.partition("boundary=")[2].split(";")[0].strip().strip('"')
        if not boundary:
            raise ValueError(f"no multipart boundary in {ctype!r}")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        dechunk = Dechunk() if chunked else None
        self._mp = mp = Multipart(boundary.encode())
        self.ready.set()
        data: bytes | None = rest
        size = 16 * 1024 if self.period_s else 256 * 1024
        next_tick = time.monotonic()
        while data is not None:
            payload = dechunk.feed(data) if dechunk else data
            done = mp.feed(payload)
            if dechunk and dechunk.finished:
                break
            if done and self.period_s:
                next_tick += self.period_s * done
                delay = next_tick - time.monotonic()
                if delay > 0 and self._halt.wait(delay):
                    return
                next_tick = max(next_tick, time.monotonic() - self.period_s)
            data = self._recv(sock, size)
        if not self._halt.is_set():
            self.error = "the server ended the stream"

    def _recv(self, sock: socket.socket, size: int) -> bytes | None:
        """Next bytes; None when stopped or the server closed the stream."""
        while not self._halt.is_set():
            try:
                data = sock.recv(size)
            except TimeoutError:
                continue
            return data or None
        return None


def addresses(n: int, distinct: int) -> list[str]:
    """Source addresses for ``n`` viewers spread over ``distinct`` loopback addresses."""
    return [f"127.0.0.{2 + i % distinct}" for i in range(n)]


class ViewerSet:
    """Several viewers started and stopped together."""

    def __init__(self, viewers: list[Viewer]) -> None:
        self.viewers = viewers

    @classmethod
    def open(cls, port: int, path: str, n: int, distinct: int = 2, period_s: float = 0.0,
             host: str = "127.0.0.1", headers: str = "") -> ViewerSet:
        viewers = [Viewer(host, port, path, addr, period_s, name=f"viewer{i}", headers=headers)
                   for i, addr in enumerate(addresses(n, distinct))]
        for v in viewers:
            v.start()
        return cls(viewers)

    def wait_streaming(self, timeout: float, min_parts: int = 2) -> None:
        """Until every viewer has received ``min_parts``; raises with the viewers' errors."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(v.counts().parts >= min_parts for v in self.viewers):
                return
            if any(v.error for v in self.viewers):
                break
            time.sleep(0.05)
        errors = [f"{v.name}: {v.error or f'parts={v.counts().parts}'}" for v in self.viewers]
        raise RuntimeError("viewers did not start streaming: " + "; ".join(errors))

    def counts(self) -> list[Counts]:
        return [v.counts() for v in self.viewers]

    def errors(self) -> list[str]:
        return [f"{v.name}: {v.error}" for v in self.viewers if v.error]

    def close(self) -> None:
        for v in self.viewers:
            v.stop()
        for v in self.viewers:
            v.join(timeout=3)


def rates(before: list[Counts], after: list[Counts]) -> list[tuple[float, float]]:
    """Per viewer: (parts per second, average part size in bytes) between two readings."""
    out = []
    for b, a in zip(before, after):
        dt = a.at - b.at
        parts = a.parts - b.parts
        out.append((parts / dt if dt > 0 else 0.0,
                    (a.payload_bytes - b.payload_bytes) / parts if parts else 0.0))
    return out


@dataclass
class Load:
    """What a server did for ``n`` viewers during one measurement window."""
    viewers: int
    seconds: float
    cpu_s: float                   # CPU seconds the server used (with its children)
    fps: list[float]               # delivered parts per second, per viewer
    avg_bytes: float               # average part payload

    @property
    def cpu_share(self) -> float:  # fraction of one core
        return self.cpu_s / self.seconds if self.seconds else float("nan")

    @property
    def delivered(self) -> float:  # parts per second, all viewers
        return sum(self.fps)

    @property
    def cpu_ms_per_frame(self) -> float:
        frames = self.delivered * self.seconds
        return 1000.0 * self.cpu_s / frames if frames else float("nan")


def measure(server_pid: int, port: int, path: str, n: int, window_s: float, distinct: int = 2,
            warmup_s: float = 1.0, start_timeout: float = 15.0) -> Load:
    """Open ``n`` viewers, let them settle, then count frames and server CPU for ``window_s``."""
    from tests.bench.rig import CpuClock  # here, so viewers.py stays usable on its own

    load = ViewerSet.open(port, path, n, distinct)
    try:
        load.wait_streaming(start_timeout)
        time.sleep(warmup_s)
        clock, before = CpuClock(server_pid), load.counts()
        time.sleep(window_s)
        cpu, wall = clock.elapsed()
        after = load.counts()
        errors = load.errors()
        if errors:
            raise RuntimeError("viewer failed during the measurement: " + "; ".join(errors))
    finally:
        load.close()
    per = rates(before, after)
    parts = sum(a.parts - b.parts for a, b in zip(before, after))
    size = sum(a.payload_bytes - b.payload_bytes for a, b in zip(before, after)) / parts if parts else 0.0
    return Load(n, wall, cpu, [fps for fps, _ in per], size)
