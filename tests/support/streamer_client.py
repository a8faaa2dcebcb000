"""Test clients for the streamer: MJPEG readers bound to a chosen local address, and streams
held open from chosen addresses."""
from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.support.multipart import Part, parse_parts


def client(source: str = "127.0.0.1", timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=timeout)


def read_parts(url: str, count: int, source: str = "127.0.0.1", timeout: float = 15.0) -> tuple[int, list[Part]]:
    """Open a stream, read ``count`` parts, close.  Returns (status, parts)."""
    with client(source, timeout) as c, c.stream("GET", url) as r:
        if r.status_code != 200:
            r.read()
            return r.status_code, []
        parts = []
        for part in parse_parts(r.iter_raw()):
            parts.append(part)
            if len(parts) >= count:
                break
        return 200, parts


@dataclass
class Reader:
    """Reads a stream in a thread until stopped; counts parts, keeps the last few."""

    url: str
    source: str = "127.0.0.1"
    delay: float = 0.0                # sleep after each part: a slow viewer
    status: int | None = None
    body: bytes = b""
    parts: int = 0
    times: list[float] = field(default_factory=list)
    last: list[Part] = field(default_factory=list)
    error: str = ""

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Reader:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with client(self.source, 30.0) as c, c.stream("GET", self.url) as r:
                self.status = r.status_code
                if r.status_code != 200:
                    self.body = r.read()
                    self.opened.set()
                    return
                self.opened.set()
                for part in parse_parts(r.iter_raw()):
                    self.parts += 1
                    self.times.append(time.monotonic())
                    self.last = ([*self.last, part])[-5:]
                    if self._stop.is_set():
                        return
                    if self.delay:
                        time.sleep(self.delay)
        except Exception as exc:  # the test looks at .error when it matters
            self.error = repr(exc)
        finally:
            self.opened.set()

    def rate(self, since: float, until: float | None = None) -> float:
        until = time.monotonic() if until is None else until
        n = sum(1 for t in self.times if since <= t <= until)
        return n / max(1e-6, until - since)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)


def stalled_viewer(port: int, path: str, source: str) -> socket.socket:
    """A viewer that sends its request and then never reads (tiny receive buffer)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return s


class Drain(threading.Thread):
    """Reads and discards whatever the held streams send: they are live viewers, not stalled ones
    (the streamer drops a viewer that stops reading, which would free its slot)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def add(self, s: socket.socket) -> None:
        s.setblocking(False)
        with self.lock:
            self.sel.register(s, selectors.EVENT_READ)

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                events = self.sel.select(0.05) if self.sel.get_map() else []
            for key, _ in events:
                try:
                    key.fileobj.recv(1 << 20)
                except (BlockingIOError, OSError):
                    pass
            if not events:
                time.sleep(0.01)


def open_raw(port: int, path: str, source: str, headers: dict[str, str] | None = None,
             timeout: float = 10.0) -> tuple[int, dict, socket.socket]:
    """GET ``path`` from ``source``: (status, the JSON body of a refusal or {}, the socket)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        more = s.recv(4096)
        if not more:
            raise ConnectionError(f"{path}: closed before the response head")
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if status == 200:
        return status, {}, s
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += s.recv(4096)
    s.close()
    return status, json.loads(body[:length]), s


class HeldStreams:
    """Streams opened from chosen addresses and kept open, their bytes read and thrown away."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.held: list[socket.socket] = []
        self._drain = Drain()
        self._drain.start()

    def open(self, path: str, source: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
        """(status, JSON body of a refusal or {}); a stream that opened stays open."""
        status, body, s = open_raw(self.port, path, source, headers)
        if status == 200:
            self.held.append(s)
            self._drain.add(s)
        return status, body

    def close(self) -> None:
        self._drain.stop.set()
        self._drain.join(5)
        for s in self.held:
            s.close()
        self.held.clear()
