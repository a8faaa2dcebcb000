"""Test clients for the streamer: MJPEG readers bound to a chosen local address."""
from __future__ import annotations

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

    def start(self) -> "Reader":
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
                    self.last = (self.last + [part])[-5:]
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
