"""Reading an MJPEG response body, for the tests and the benchmark: HTTP/1.1 chunked
transfer coding and multipart/x-mixed-replace parts, fed bytes as they arrive.

Parts are found by their ``Content-Length`` (or, without one, by the next boundary).  By
default payloads are only counted, never copied, so a benchmark viewer costs little CPU;
``keep=True`` also keeps each part's headers and payload.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass
class Part:
    headers: dict[str, str]    # names in lower case
    jpeg: bytes
    received_ns: int           # CLOCK_MONOTONIC when the last byte arrived

    @property
    def index(self) -> int:
        return int(self.headers["x-frame-index"])

    def gray(self):
        import cv2
        import numpy as np
        return cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)


class Dechunk:
    """Undo HTTP/1.1 chunked transfer coding, incrementally."""

    def __init__(self) -> None:
        self.pending = bytearray()
        self.left = 0          # bytes left in the current chunk
        self.skip_crlf = False
        self.finished = False  # the last (empty) chunk arrived

    def feed(self, data: bytes) -> bytes:
        self.pending += data
        out = bytearray()
        buf = self.pending
        pos = 0
        while pos < len(buf):
            if self.left:
                take = min(self.left, len(buf) - pos)
                out += buf[pos:pos + take]
                pos += take
                self.left -= take
                if not self.left:
                    self.skip_crlf = True
                continue
            if self.skip_crlf:
                if len(buf) - pos < 2:
                    break
                if buf[pos:pos + 2] != b"\r\n":
                    raise ValueError(f"chunk not followed by CRLF: {bytes(buf[pos:pos + 2])!r}")
                pos += 2
                self.skip_crlf = False
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            size = int(bytes(buf[pos:end]).split(b";")[0] or b"0", 16)
            pos = end + 2
            if size == 0:
                self.finished = True
                pos = len(buf)
                break
            self.left = size
        del buf[:pos]
        return bytes(out)


class Multipart:
    """The parts of a multipart body: counted, and with ``keep`` collected for :meth:`take`."""

    def __init__(self, boundary: bytes = b"frame", keep: bool = False) -> None:
        self.marker = b"--" + boundary
        self.keep = keep
        self.buf = bytearray()
        self.body_left = 0
        self.parts = 0
        self.payload_bytes = 0
        self.last_headers: dict[str, str] = {}
        self.unsized = False   # inside a part that has no Content-Length
        self._body = bytearray()
        self._kept: list[Part] = []

    def take(self) -> list[Part]:
        """Parts completed since the last call (``keep=True`` only)."""
        kept, self._kept = self._kept, []
        return kept

    def _done(self) -> None:
        self.parts += 1
        if self.keep:
            self._kept.append(Part(self.last_headers, bytes(self._body), time.monotonic_ns()))
            self._body = bytearray()

    def _payload(self, data: memoryview | bytearray, size: int) -> None:
        """The first ``size`` bytes of ``data`` are payload (copied only with ``keep``)."""
        self.payload_bytes += size
        if self.keep:
            self._body += data[:size]

    def feed(self, data: bytes) -> int:
        """Returns the number of parts completed by this data."""
        before = self.parts
        view = memoryview(data)
        while len(view):
            if self.body_left:
                take = min(self.body_left, len(view))
                self.body_left -= take
                self._payload(view, take)
                view = view[take:]
                if not self.body_left:
                    self._done()
                continue
            self.buf += view
            view = memoryview(b"")
            if self.unsized:
                # A part without Content-Length ends where the next boundary starts.
                nxt = self.buf.find(self.marker)
                if nxt < 0:
                    keep = len(self.marker) + 2   # the CRLF before a boundary is not payload
                    if len(self.buf) > keep:
                        self._payload(self.buf, len(self.buf) - keep)
                        del self.buf[:-keep]
                    break
                self._payload(self.buf, max(0, nxt - 2))
                self._done()
                self.unsized = False
                del self.buf[:nxt]
            start = self.buf.find(self.marker)
            if start < 0:
                keep = len(self.marker)
                if len(self.buf) > keep:
                    del self.buf[:-keep]
                break
            head_end = self.buf.find(b"\r\n\r\n", start)
            if head_end < 0:
                break
            headers: dict[str, str] = {}
            for line in bytes(self.buf[start:head_end]).split(b"\r\n")[1:]:
                key, _, value = line.decode("latin-1").partition(":")
                headers[key.strip().lower()] = value.strip()
            self.last_headers = headers
            rest = bytes(self.buf[head_end + 4:])
            self.buf.clear()
            length = headers.get("content-length", "")
            if length.isdigit():
                self.body_left = int(length)
                if self.body_left == 0:
                    self._done()
            else:
                self.unsized = True
            view = memoryview(rest)
        return self.parts - before


def parse_parts(chunks: Iterable[bytes], boundary: bytes = b"frame") -> Iterator[Part]:
    """Yield the parts of a multipart body given as an iterable of byte strings."""
    mp = Multipart(boundary, keep=True)
    for chunk in chunks:
        mp.feed(chunk)
        yield from mp.take()
