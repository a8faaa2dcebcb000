"""uvicorn's HTTP/1.1 protocol with the three things a live stream needs from its socket.

* a bounded send buffer, so a slow viewer never has more than its resolution's limit
  pending (the kernel buffer would otherwise grow to megabytes and hold seconds of video);
* a way to drop a viewer that stopped reading (its writes would wait forever);
* word of a graceful shutdown, so open streams end at once instead of holding the exit.

The app finds its connection by the client's (address, port), which is unique per socket.
Under another server the lookup simply finds nothing and streams fall back to plain ASGI.
"""
from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

WRITE_HIGH_WATER = 64 * 1024     # asyncio's own buffer in front of the socket
_connections: dict[tuple[str, int], "StreamProtocol"] = {}


class StreamProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.closing = False
        self._listeners: set[asyncio.Event] = set()
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        if self.client is not None:
            _connections[(self.client[0], self.client[1])] = self

    def connection_lost(self, exc: Exception | None) -> None:
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
