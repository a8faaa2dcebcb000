"""uvicorn's HTTP/1.1 protocol with the three things a live stream needs from its socket.

* a bounded send buffer, so a slow viewer never has more than its resolution's limit
  pending (the kernel buffer would otherwise grow to megabytes and hold seconds of video);
* a way to drop a viewer that stopped reading (its writes would wait forever);
* word of a graceful shutdown, so open streams end at once instead of holding the exit.

And two defences against clients that hold connections: a connection that has not sent a
complete request (head and body) within HEAD_TIMEOUT_S is closed (slowloris), and past the process's
connection cap a new connection is answered 503 and closed at once, so the file
descriptors it may use stay bounded (:func:`admit_connections` raises their limit to fit).

The app finds its connection by the client's (address, port), which is unique per socket.
Under another server the lookup simply finds nothing and streams fall back to plain ASGI.
"""
from __future__ import annotations

import asyncio
import json
import logging
import resource
import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

WRITE_HIGH_WATER = 64 * 1024     # asyncio's own buffer in front of the socket
HEAD_TIMEOUT_S = 10.0            # from connecting (or the last response) to a complete request head
REFUSED_LINGER_S = 1.0           # a connection over the cap, answered 503, is dropped this much later
FD_RESERVE = 512                 # descriptors beyond the connection cap: rings, files, viewers' own dups
_connections: dict[tuple[str, int], "StreamProtocol"] = {}
_limit = {"connections": 0}      # 0: no cap
log = logging.getLogger("streamer")
_BUSY_BODY = json.dumps({"error": "server busy: too many open connections", "retry_after_s": 2}).encode()
BUSY_RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 2\r\n"
                 b"connection: close\r\ncontent-length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY)


def admit_connections(cap: int) -> int:
    """Cap this process's open connections, raising its file limit to fit; returns the cap."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = cap + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < want:
        cap = max(16, soft - FD_RESERVE)
        log.warning("only %d file descriptors allowed: at most %d connections", soft, cap)
    _limit["connections"] = cap
    return cap


class StreamProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.closing = False
        self._listeners: set[asyncio.Event] = set()
        self._head_timer: asyncio.TimerHandle | None = None
        self.refused = False
        cap = _limit["connections"]
        if cap and len(self.connections) > cap:
            # Answer, end our side, and drop the connection a moment later whatever the client
            # does (closing at once would reset it and could lose the answer).
            self.refused = True
            transport.write(BUSY_RESPONSE)
            if transport.can_write_eof():
                transport.write_eof()
            self._head_timer = self.loop.call_later(REFUSED_LINGER_S, transport.abort)
            return
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        if self.client is not None:
            _connections[(self.client[0], self.client[1])] = self
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            super().data_received(data)

    def _await_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_overdue)

    def _head_overdue(self) -> None:
        self._head_timer = None
        # Still waiting for (the rest of) a request head or its small body: a response in
        # progress has had both (no route here takes a large body).
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self.client is not None:
            _connections.pop((self.client[0], self.client[1]), None)
        super().connection_lost(exc)
        self._closed()

    def shutdown(self) -> None:
        super().shutdown()
        self._closed()

    def _closed(self) -> None:
        self.closing = True
        for event in self._listeners:
            event.set()

    def listen(self, event: asyncio.Event) -> None:
        """``event`` is set when the connection closes or the server shuts down."""
        self._listeners.add(event)
        if self.closing:
            event.set()

    def unlisten(self, event: asyncio.Event) -> None:
        self._listeners.discard(event)

    def limit_pending(self, limit: int) -> None:
        """Keep kernel + asyncio buffers under ``limit`` bytes (Linux doubles SO_SNDBUF)."""
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return
        want = max(16 * 1024, (limit - 2 * WRITE_HIGH_WATER) // 2)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, want)
        except OSError:
            pass

    def abort(self) -> None:
        self.transport.abort()


def lookup(client: tuple[str, int] | list | None) -> StreamProtocol | None:
    if not client:
        return None
    return _connections.get((client[0], client[1]))
