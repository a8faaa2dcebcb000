"""A small MJPEG (multipart/x-mixed-replace) client for tests and benchmarks.

Uses the standard library's HTTP client (it undoes chunked transfer encoding) and can
bind to a chosen loopback address, since the streamer counts viewers by IP address.
"""
from __future__ import annotations

import http.client
import time
from dataclasses import dataclass, field


@dataclass
class Part:
    headers: dict[str, str]
    body: bytes
    received: float = field(default_factory=time.monotonic)


class MjpegClient:
    def __init__(self, port: int, path: str = "/stream", source: str = "127.0.0.1", host: str = "127.0.0.1",
                 timeout: float = 5.0) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(source, 0))
        self.conn.request("GET", path)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}

    def read_part(self) -> Part:
        """The next part: its headers (lower-case names) and its JPEG body."""
        resp = self.response
        line = resp.readline()
        while line in (b"\r\n", b"\n"):
            line = resp.readline()
        if not line:
            raise EOFError("stream ended")
        if not line.startswith(b"--"):
            raise ValueError(f"expected a boundary line, got {line[:80]!r}")
        headers: dict[str, str] = {}
        while True:
            line = resp.readline()
            if not line:
                raise EOFError("stream ended inside part headers")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        body = resp.read(length)
        if len(body) != length:
            raise EOFError("stream ended inside a part")
        return Part(headers, body)

    def body(self) -> bytes:
        """The whole body of a non-streaming answer (an error, for instance)."""
        return self.response.read()

    def close(self) -> None:
        self.conn.close()
