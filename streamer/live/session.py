"""A live viewer's session, the same for MJPEG and the low-data view, and its response's lifecycle.

A session is one admitted stream (:mod:`streamer.live.admission` gave it a row in the
viewer table): its address, kind, view and pool, and the statistics /api/status shows.
Its response (:class:`LiveResponse`) finds the stream's connection, watches for the
client's disconnect, runs the kind's own :meth:`LiveResponse.serve`, ends the response
properly when the server shuts down, and gives the slot back however the stream ended.

One stall rule for both kinds: a viewer whose socket takes nothing for STALL_S has stopped
reading and is dropped, so its slot frees.  "Nothing" is measured as no progress of the
bytes waiting in front of the socket, not as a deadline for draining them: a slow viewer
always takes something and stays (both kinds skip to the newest picture or keyframe when
it falls behind, so waiting for it costs only the socket's bounded buffers).  Five seconds
outlasts what a live client goes through without reading: a phone changing networks, a
burst of lost packets (TCP's retransmission backoff alone waits 3 s after four losses), a
reader that pauses for a few seconds and then skips ahead; a viewer silent for longer
reconnects anyway (the page does so after 3 s without bytes).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from common.meter import RateMeter
from streamer.server import Connection, lookup

STALL_S = 5.0          # a socket that takes nothing for this long: the viewer stopped reading
STALL_LOOK_S = 0.5     # how often a waiting stream looks whether its socket took anything
log = logging.getLogger("streamer")
_conn_ids = itertools.count(1)
_END: Message = {"type": "http.response.body", "body": b"", "more_body": False}


class ViewerSession:
    """One open live stream of this worker."""

    kind: ClassVar[str]

    def __init__(self, address: str, view: str, pool: str) -> None:
        self.conn = f"{self.kind}-{next(_conn_ids)}"
        self.address, self.view, self.res = address, view, pool
        self.since = time.time()
        self.bytes_sent = 0
        # Capture-to-sent latency of each picture or frame sent; its rate is the viewer's
        # fps.  Added by whichever side owns the socket (one at a time), read by status requests.
        self.latency = RateMeter(window=2.0, max_events=128)
        self.wake = asyncio.Event()     # something to do: a picture, a disconnect, a closing connection
        self.gone = False               # the client left, or was dropped
        self.connection: Connection | None = None   # None under another server (plain ASGI)

    def row(self) -> dict[str, Any]:
        """Its row in the viewer table and /api/status."""
        fps, latency, (p50, p99) = self.latency.summary(50, 99)
        return {"conn": self.conn, "kind": self.kind, "address": self.address, "view": self.view,
                "res": self.res, "since": round(self.since, 3), "fps": round(fps, 2),
                "bytes_sent": self.bytes_sent, "latency_ms": round(latency, 2), "latency_p50_ms": round(p50, 2),
                "latency_p99_ms": round(p99, 2), **self.figures()}

    def figures(self) -> dict[str, Any]:
        """Statistics of its own kind, for the row."""
        return {}

    @property
    def active(self) -> bool:
        """Still to be served: neither gone nor closing (client gone, server shutting down)."""
        conn = self.connection
        return not self.gone and (conn is None or not conn.closing)

    def drop(self) -> None:
        """End a stream whose client stopped reading."""
        log.info("%s viewer %s (%s %s) stopped reading: dropped", self.kind, self.address, self.view, self.res)
        self.gone = True
        self.wake.set()
        if self.connection is not None:
            self.connection.abort()

    async def drained(self) -> bool:
        """Wait until the buffers in front of the socket drain; False (and the viewer dropped)
        when the socket took nothing for STALL_S."""
        conn = self.connection
        assert conn is not None
        left, since = conn.buffered, time.monotonic()
        while True:
            try:
                async with asyncio.timeout(STALL_LOOK_S):
                    await conn.drain()
                return True
            except TimeoutError:
                pass
            now, buffered = time.monotonic(), conn.buffered
            if buffered < left:
                left, since = buffered, now
            elif now - since >= STALL_S:
                self.drop()
                return False

    async def send(self, send: Send, body: bytes | memoryview) -> bool:
        """Send part of the body under the stall rule; False when the viewer was dropped."""
        message = {"type": "http.response.body", "body": body, "more_body": True}
        conn = self.connection
        if conn is not None:
            # uvicorn's send waits for the buffers to drain before it writes: wait here, under the rule.
            if not conn.writable and not await self.drained():
                return False
            await send(message)
            return True
        # Plain ASGI: no view of the socket, only of a send that does not return.
        try:
            async with asyncio.timeout(STALL_S):
                await send(message)
        except TimeoutError:
            self.drop()
            return False
        return True

    async def watch(self, receive: Receive) -> None:
        """The disconnect watcher: the client's disconnect ends the stream."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.gone = True
                self.wake.set()
                return


class LiveResponse(Response):
    """A live stream's response: the session's lifecycle around the kind's :meth:`serve`."""

    def __init__(self, session: ViewerSession, on_end: Callable[[ViewerSession], None],
                 headers: Mapping[str, str], media_type: str | None = None) -> None:
        super().__init__(content=None, status_code=200, headers=headers, media_type=media_type)
        # Starlette adds a Content-Length of 0 for an empty body: a stream has none.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.session, self.on_end = session, on_end
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = self.session
        conn = session.connection = lookup(scope.get("client"))
        watcher = asyncio.create_task(session.watch(receive))
        if conn is not None:
            conn.listen(session.wake)   # set when the connection closes or the server shuts down
        try:
            await self.serve(scope, receive, send)
            if self.started and not session.gone and (conn is None or conn.open):
                # Server shutdown: end the response properly so the connection closes cleanly.
                await send(_END)
            elif self.started and conn is not None:
                # A dropped connection is lost a moment after its abort: returning before that
                # would look to the server like a response given up half-way.
                while not conn.closing:
                    session.wake.clear()
                    await session.wake.wait()
        finally:
            watcher.cancel()
            if conn is not None:
                conn.unlisten(session.wake)
            self.on_end(session)

    async def start(self, send: Send, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        """Send the response's head (with ``extra`` headers known only now)."""
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers + (extra or [])})
        self.started = True

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The stream itself, until the session is no longer active."""
        raise NotImplementedError
