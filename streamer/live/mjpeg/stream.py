"""The MJPEG response: each viewer gets the newest picture whenever its socket has room.

While a viewer's socket keeps up, the encoder thread writes each part to it directly, in
one non-blocking ``writev`` of the framed picture, and the asyncio loop is not woken at
all.  When the kernel takes only part of it, the rest goes back to the viewer's own
task, which writes it through the connection (:mod:`streamer.server.transport`) and waits for
the socket's bounded buffers to drain, then takes the newest picture and hands the socket
back to the encoder thread once nothing is left queued: a slow viewer skips pictures, and
no one else waits for it.  With no new picture for ``keepalive`` seconds the
encoder hands out the last one again, so the browser keeps the connection and shows the
stall.  A viewer whose writes make no progress for STALL_S is dropped so its slot frees.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
from typing import Any, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from common.meter import RateMeter
from streamer.live.mjpeg import framing
from streamer.live.mjpeg.encoder import Encoders, Picture, ViewEncoder
from streamer.params import RESOLUTIONS
from streamer.server import transport

STALL_S = 1.25
log = logging.getLogger("streamer")
_conn_ids = itertools.count(1)


class Viewer:
    """One open stream of this worker, with the statistics /api/status shows."""

    def __init__(self, address: str, view: str, res: str) -> None:
        self.conn = f"c{next(_conn_ids)}"
        self.address, self.view, self.res = address, view, res
        self.since = time.time()
        # Capture-to-sent latency of each new picture; its rate is the viewer's fps.  Added
        # by whichever side owns the socket (one at a time), read by status requests.
        self.latency = RateMeter(window=2.0, max_events=128)
        self.bytes_sent = 0
        self.send_started = 0.0     # monotonic start of a write still waiting, 0 when none
        self.connection: transport.Connection | None = None

    def row(self) -> dict[str, Any]:
        fps, latency, (p50, p99) = self.latency.summary(50, 99)
        return {"conn": self.conn, "address": self.address, "view": self.view, "res": self.res,
                "since": round(self.since, 3), "fps": round(fps, 2), "bytes_sent": self.bytes_sent,
                "latency_ms": round(latency, 2), "latency_p50_ms": round(p50, 2), "latency_p99_ms": round(p99, 2)}

    def stalled(self, now: float) -> bool:
        return self.send_started > 0 and now - self.send_started > STALL_S

    def sent(self, pic: Picture, fresh: bool) -> None:
        """A whole part went to the socket (``fresh``: a new picture, not a keep-alive)."""
        self.bytes_sent += pic.size
        if fresh:
            now = time.monotonic_ns()
            self.latency.add((now - pic.mono_ns) / 1e6, now / 1e9)

    def drop(self) -> None:
        """End a stream whose client stopped reading."""
        if self.connection is not None:
            self.connection.abort()


class Sink:
    """Feeds one viewer's socket, from the encoder thread while it keeps up.

    Two owners take turns writing, never both at once.  *Direct*: the connection has
    nothing buffered, and the encoder thread writes each picture to a duplicate of the
    socket's file descriptor with one non-blocking ``writev`` (:meth:`offer`).  *Loop*:
    when the kernel took only part of a picture, the rest is left in ``pending`` and the
    viewer's task writes it through the connection, ``chunk`` bytes at a time, waiting for
    the socket to drain; it then sends the newest picture if one came meanwhile, and hands
    the socket back once nothing is buffered (:meth:`go_direct`).  Pictures that come while
    the socket is backed up are skipped, never queued.
    """

    def __init__(self, viewer: Viewer, conn: transport.Connection, chunk: int, chunked: bool,
                 wake: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        self.viewer, self.conn, self.chunk, self.chunked, self.wake = viewer, conn, chunk, chunked, wake
        self.loop = loop
        self.pending: tuple[Picture, list[framing.Buffer], int] | None = None  # a part the socket has not taken yet
        self.last_seq = -1
        self.last_tick = -1
        self._lock = threading.Lock()   # the hand-over between the two writers
        self._direct = False
        self._fd = conn.dup_fd()

    @property
    def ready(self) -> bool:
        return self.pending is None and self.conn.writable

    def _pieces(self, pic: Picture) -> tuple[bytes, bytes, bytes]:
        # HTTP/1.1 bodies without a length are chunked; pictures carry that coding ready-made.
        return pic.chunked if self.chunked else pic.plain

    # -- encoder thread ----------------------------------------------------------------------
    def offer(self, pic: Picture, tick: int) -> None:
        with self._lock:
            if not self._direct:
                # The viewer's task owns the socket: it takes the newest picture when it can.
                self.loop.call_soon_threadsafe(self.wake.set)
                return
            pieces = pic.chunked if self.chunked else pic.plain
            try:
                sent = os.writev(self._fd, pieces)
            except BlockingIOError:
                sent = 0
            except OSError:
                # The peer went away: the viewer's task notices and ends the stream.
                self._direct = False
                self.loop.call_soon_threadsafe(self.wake.set)
                return
            self.last_tick = tick
            if sent == sum(map(len, pieces)):
                self.viewer.sent(pic, fresh=pic.seq != self.last_seq)
                self.last_seq = pic.seq
                return
            # The socket is full: the viewer's task writes the rest as the socket drains.
            self._direct = False
            self.pending = (pic, framing.cut(framing.rest(pieces, sent), self.chunk), 0)
            self.loop.call_soon_threadsafe(self.wake.set)

    # -- loop thread -------------------------------------------------------------------------
    def go_direct(self, latest: tuple[Picture, int] | None) -> bool:
        """Hand the socket to the encoder thread; False if a newer picture is waiting instead."""
        with self._lock:
            if latest is not None and latest[1] != self.last_tick:
                return False
            conn = self.conn
            if self._fd >= 0 and self.pending is None and conn.open and conn.buffered == 0:
                self._direct = True
            return True

    def leave_direct(self) -> None:
        """Take the socket back from the encoder thread (waits out a write in progress)."""
        with self._lock:
            self._direct = False

    def stop_direct(self) -> None:
        """Take the socket back for good (the stream is ending); closes our descriptor."""
        with self._lock:
            self._direct = False
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def start(self, pic: Picture, tick: int) -> None:
        self.last_tick = tick
        self.write(pic, framing.cut(self._pieces(pic), self.chunk), 0)

    def write(self, pic: Picture, pieces: list[framing.Buffer], at: int) -> None:
        conn = self.conn
        while at < len(pieces):
            if not conn.open:
                self.pending = None
                return
            conn.write(pieces[at])
            at += 1
            if not conn.writable and at < len(pieces):
                self.pending = (pic, pieces, at)
                self.wake.set()
                return
        self.pending = None
        self.viewer.sent(pic, fresh=pic.seq != self.last_seq)
        self.last_seq = pic.seq


class MJPEGStream(Response):
    media_type = framing.MEDIA_TYPE

    def __init__(self, encoders: Encoders, viewer: Viewer, on_end) -> None:
        super().__init__(content=None, status_code=200, media_type=self.media_type, headers={
            "Cache-Control": "no-cache, no-store, must-revalidate, max-age=0",
            "Pragma": "no-cache", "X-Accel-Buffering": "no"})
        # Starlette adds a Content-Length of 0 for an empty body: a stream has none.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.encoders, self.viewer, self.on_end = encoders, viewer, on_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        viewer = self.viewer
        res = RESOLUTIONS[viewer.res]
        conn = transport.lookup(scope.get("client"))
        viewer.connection = conn
        wake = asyncio.Event()
        gone = asyncio.Event()
        watcher = asyncio.create_task(self._watch(receive, gone, wake))
        enc = self.encoders.acquire(viewer.view, viewer.res)
        notify: Callable[[Picture, int], None] | None = None
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if conn is not None:
                conn.limit_pending(res.buffer_limit)
                conn.listen(wake)
                sink = Sink(viewer, conn, res.chunk, scope.get("http_version") == "1.1", wake,
                            asyncio.get_running_loop())
                senders = enc.senders
                senders.add(sink.offer)
                try:
                    await self._feed(sink, enc, gone)
                finally:
                    senders.discard(sink.offer)
                    sink.stop_direct()
            else:
                notify = lambda _pic, _tick: wake.set()  # noqa: E731
                enc.subscribers.add(notify)
                await self._send_loop(send, enc, res.chunk, gone, wake)
            if not gone.is_set() and (conn is None or conn.open):
                # Server shutdown: end the response properly so the connection closes cleanly.
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if notify is not None:
                enc.subscribers.discard(notify)
            self.encoders.release(enc)
            watcher.cancel()
            if conn is not None:
                conn.unlisten(wake)
            viewer.send_started = 0.0
            self.on_end(viewer)

    async def _feed(self, sink: Sink, enc: ViewEncoder, gone: asyncio.Event) -> None:
        """The viewer's task: only busy when its socket is full (or to send its first picture)."""
        conn, viewer = sink.conn, self.viewer
        while not gone.is_set() and not conn.closing:
            if sink.ready:
                sink.wake.clear()
                latest = enc.latest
                if latest is not None and latest[1] != sink.last_tick:
                    sink.start(*latest)
                    continue
                if not sink.go_direct(latest):
                    continue  # a picture came meanwhile
                await sink.wake.wait()
                sink.leave_direct()  # whatever woke us, the socket is ours again before we look
                continue
            viewer.send_started = time.monotonic()
            try:
                # A viewer whose socket takes nothing for STALL_S is dropped so its slot frees.
                await asyncio.wait_for(conn.drain(), STALL_S)
            except TimeoutError:
                log.info("viewer %s (%s %s) stopped reading: dropped", viewer.address, viewer.view, viewer.res)
                viewer.drop()
            viewer.send_started = 0.0
            if sink.pending is not None:
                sink.write(*sink.pending)

    async def _send_loop(self, send: Send, enc: ViewEncoder, chunk: int, gone: asyncio.Event,
                         wake: asyncio.Event) -> None:
        """The same through plain ASGI ``send``, for a server without our protocol."""
        last_seq, last_tick = -1, -1
        while not gone.is_set():
            if enc.picture is None or enc.ticks == last_tick:
                wake.clear()
                await wake.wait()
                continue
            pic, last_tick = enc.picture, enc.ticks
            for piece in framing.cut(pic.plain, chunk):
                self.viewer.send_started = time.monotonic()
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            self.viewer.send_started = 0.0
            self.viewer.sent(pic, fresh=pic.seq != last_seq)
            last_seq = pic.seq

    @staticmethod
    async def _watch(receive: Receive, gone: asyncio.Event, wake: asyncio.Event) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                gone.set()
                wake.set()
                return
