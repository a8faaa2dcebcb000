"""The MJPEG response: each viewer gets the newest picture whenever its socket has room.

While a viewer's socket keeps up, the encoder thread writes each part to it directly, in
one non-blocking ``writev`` of the framed picture, and the asyncio loop is not woken at
all.  When the kernel takes only part of it, the rest goes back to the viewer's own
task, which writes it through the connection (:mod:`streamer.server`) and waits for the
socket's bounded buffers to drain, then takes the newest picture and hands the socket
back to the encoder thread once nothing is left queued: a slow viewer skips pictures, and
no one else waits for it.  With no new picture for ``keepalive`` seconds the
encoder hands out the last one again, so the browser keeps the connection and shows the
stall.  The session's stall rule (:mod:`streamer.live.session`) drops a viewer that stopped
reading.
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable

from starlette.types import Receive, Scope, Send

from streamer.live.mjpeg import framing
from streamer.live.mjpeg.encoder import Encoders, Picture, ViewEncoder
from streamer.live.session import LiveResponse, ViewerSession
from streamer.params import RESOLUTIONS
from streamer.server import Connection

# No caching (Cache-Control: private, no-store) is the app's policy (streamer.auth.headers).
HEADERS = {"Pragma": "no-cache", "X-Accel-Buffering": "no"}


class MJPEGViewer(ViewerSession):
    """An MJPEG viewer: each new picture it is sent counts for its fps and latency."""

    kind = "mjpeg"

    def sent(self, pic: Picture, fresh: bool) -> None:
        """A whole part went to the socket (``fresh``: a new picture, not a keep-alive)."""
        self.bytes_sent += pic.size
        if fresh:
            now = time.monotonic_ns()
            self.latency.add((now - pic.mono_ns) / 1e6, now / 1e9)


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

    def __init__(self, viewer: MJPEGViewer, conn: Connection, chunk: int, chunked: bool,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.viewer, self.conn, self.chunk, self.chunked, self.wake = viewer, conn, chunk, chunked, viewer.wake
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


class MJPEGStream(LiveResponse):
    def __init__(self, encoders: Encoders, viewer: MJPEGViewer, on_end: Callable[[ViewerSession], None]) -> None:
        super().__init__(viewer, on_end, HEADERS, framing.MEDIA_TYPE)
        self.encoders, self.viewer = encoders, viewer

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        viewer = self.viewer
        res = RESOLUTIONS[viewer.res]
        conn = viewer.connection
        enc = self.encoders.acquire(viewer.view, viewer.res)
        notify: Callable[[Picture, int], None] | None = None
        try:
            await self.start(send)
            if conn is not None:
                conn.limit_pending(res.buffer_limit)
                sink = Sink(viewer, conn, res.chunk, scope.get("http_version") == "1.1", asyncio.get_running_loop())
                senders = enc.senders
                senders.add(sink.offer)
                try:
                    await self._feed(sink, enc)
                finally:
                    senders.discard(sink.offer)
                    sink.stop_direct()
            else:
                notify = lambda _pic, _tick: viewer.wake.set()  # noqa: E731
                enc.subscribers.add(notify)
                await self._send_loop(send, enc, res.chunk)
        finally:
            if notify is not None:
                enc.subscribers.discard(notify)
            self.encoders.release(enc)

    async def _feed(self, sink: Sink, enc: ViewEncoder) -> None:
        """The viewer's task: only busy when its socket is full (or to send its first picture)."""
        viewer = self.viewer
        while viewer.active:
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
            if not await viewer.drained():
                return
            if sink.pending is not None:
                sink.write(*sink.pending)

    async def _send_loop(self, send: Send, enc: ViewEncoder, chunk: int) -> None:
        """The same through plain ASGI ``send``, for a server without our protocol."""
        viewer = self.viewer
        last_seq, last_tick = -1, -1
        while viewer.active:
            if enc.picture is None or enc.ticks == last_tick:
                viewer.wake.clear()
                await viewer.wake.wait()
                continue
            pic, last_tick = enc.picture, enc.ticks
            for piece in framing.cut(pic.plain, chunk):
                if not await viewer.send(send, piece):
                    return
            viewer.sent(pic, fresh=pic.seq != last_seq)
            last_seq = pic.seq
