"""The one module that touches uvicorn's internals; the rest of the streamer sees
:class:`Connection`, :func:`lookup`, :func:`run`, :func:`bind` and :func:`admit_connections`.

uvicorn's HTTP/1.1 protocol is extended with the three things a live stream needs from
its socket:

* a bounded send buffer, so a slow viewer never has more than its resolution's limit
  pending (the kernel buffer would otherwise grow to megabytes and hold seconds of video);
* a way to drop a viewer that stopped reading (its writes would wait forever);
* word of a graceful shutdown, so open streams end at once instead of holding the exit.

And two defences against clients that hold connections: a connection that has not sent a
complete request (head and body) within HEAD_TIMEOUT_S is closed (slowloris), and a new
connection meets the caps of :mod:`streamer.server.caps` (the process's total, each
address's share, the reserve for this machine and the admins); a refused one is answered
and dropped, so the file descriptors it may use stay bounded (:func:`admit_connections`
raises their limit to fit).

uvicorn's server is run without its ten wake-ups a second (:class:`Server`).

The app finds a stream's connection by the client's (address, port), which is unique per
socket.  Under another server there is none and streams go through plain ASGI, slower:
that is logged once when the app starts.  What this module relies on is pinned in
requirements.txt and checked by tests/test_uvicorn_contract.py.
"""
from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
from collections.abc import Callable
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from streamer.server.caps import REFUSALS, ConnectionCaps, Verdict, nobody

WRITE_HIGH_WATER = 64 * 1024     # asyncio's own buffer in front of the socket
HEAD_TIMEOUT_S = 10.0            # from connecting (or the last response) to a complete request
REFUSED_LINGER_S = 1.0           # a connection over the cap, answered 503, is dropped this much later
FD_RESERVE = 512                 # descriptors beyond the connection cap: rings, files, viewers' own dups
_connections: dict[tuple[str, int], StreamProtocol] = {}
_state = {"ours": False, "told": False}   # our server in this process; the fallback logged
_caps = ConnectionCaps()          # no cap until admit_connections
_provisional: set[tuple[str, int]] = set()   # clients on a reserve connection: admins only
log = logging.getLogger("streamer")
BUSY_RESPONSE = REFUSALS[Verdict.BUSY]


def admit_connections(cap: int, per_address: int = 0, local: Callable[[str], bool] = nobody,
                      exempt: Callable[[str], bool] = nobody) -> int:
    """Cap this process's open connections, raising its file limit to fit; returns the cap.

    ``per_address``, ``local`` and ``exempt`` are those of :class:`ConnectionCaps`.
    """
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
    global _caps
    _caps = ConnectionCaps(cap, per_address, local, exempt)
    return cap


def provisional(client: tuple[str, int] | list[Any] | None) -> bool:
    """The request came on a reserve connection: only an admin's may be served."""
    return bool(_provisional) and client is not None and (client[0], client[1]) in _provisional


class StreamProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.closing = False
        self._listeners: set[asyncio.Event] = set()
        self._head_timer: asyncio.TimerHandle | None = None
        self.refused = False
        self.held_by: str | None = None
        address = self.client[0] if self.client else ""
        verdict = _caps.admit(address, len(self.connections) - 1)
        if verdict in REFUSALS:
            # Answer, end our side, and drop the connection a moment later whatever the client
            # does (closing at once would reset it and could lose the answer).
            self.refused = True
            transport.write(REFUSALS[verdict])
            if transport.can_write_eof():
                transport.write_eof()
            self._head_timer = self.loop.call_later(REFUSED_LINGER_S, transport.abort)
            return
        self.held_by = address
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        if self.client is not None:
            _connections[(self.client[0], self.client[1])] = self
            if verdict is Verdict.PROVISIONAL:
                _provisional.add((self.client[0], self.client[1]))
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
            _provisional.discard((self.client[0], self.client[1]))
        if self.held_by is not None:
            _caps.release(self.held_by)
            self.held_by = None
        super().connection_lost(exc)
        self._closed()

    def shutdown(self) -> None:
        super().shutdown()
        self._closed()

    def _closed(self) -> None:
        self.closing = True
        for event in self._listeners:
            event.set()


class Connection:
    """A stream's client connection: what the stream may do with its socket."""

    __slots__ = ("_proto",)

    def __init__(self, proto: StreamProtocol) -> None:
        self._proto = proto

    @property
    def closing(self) -> bool:
        """The client went away or the server is shutting down: the stream should end."""
        return self._proto.closing

    @property
    def open(self) -> bool:
        """The socket still takes writes."""
        return not self._proto.transport.is_closing()

    @property
    def writable(self) -> bool:
        """False while the buffers in front of the socket are over their high-water mark."""
        return not self._proto.flow.write_paused

    @property
    def buffered(self) -> int:
        """Bytes written but still waiting in asyncio's buffer (not yet in the kernel's)."""
        return self._proto.transport.get_write_buffer_size()

    def write(self, data: bytes | memoryview) -> None:
        self._proto.transport.write(data)

    async def drain(self) -> None:
        """Until the buffers are under their low-water mark again, or the connection is lost."""
        await self._proto.flow.drain()

    def abort(self) -> None:
        """Drop the connection at once, whatever is buffered."""
        self._proto.transport.abort()

    def dup_fd(self) -> int:
        """A duplicate of the socket's descriptor, for direct non-blocking writes; -1 if none.

        The caller owns and closes it (the transport may close its own at any time).  Write
        to it only while :attr:`buffered` is 0, or the bytes would overtake queued ones.
        """
        sock = self._proto.transport.get_extra_info("socket")
        if sock is None:
            return -1
        try:
            return os.dup(sock.fileno())
        except (OSError, ValueError):
            return -1

    def limit_pending(self, limit: int) -> None:
        """Keep kernel + asyncio buffers under ``limit`` bytes (Linux doubles SO_SNDBUF)."""
        sock = self._proto.transport.get_extra_info("socket")
        if sock is None:
            return
        want = max(16 * 1024, (limit - 2 * WRITE_HIGH_WATER) // 2)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, want)
        except OSError:
            pass

    def listen(self, event: asyncio.Event) -> None:
        """``event`` is set when the connection closes or the server shuts down."""
        self._proto._listeners.add(event)
        if self._proto.closing:
            event.set()

    def unlisten(self, event: asyncio.Event) -> None:
        self._proto._listeners.discard(event)


def lookup(client: tuple[str, int] | list[Any] | None) -> Connection | None:
    """The connection of a request's ``scope["client"]``; None under another server."""
    proto = _connections.get((client[0], client[1])) if client else None
    if proto is None:
        if _state["ours"] and not _state["told"]:
            _state["told"] = True
            log.warning("a stream's connection was not found: it goes through plain ASGI (slower)")
        return None
    return Connection(proto)


def announce() -> None:
    """Say once, when the app starts, if streams cannot use their fast path in this process."""
    if not _state["ours"] and not _state["told"]:
        _state["told"] = True
        log.warning("not served by python -m streamer: streams go through plain ASGI "
                    "(more CPU per picture, and a stalled viewer is noticed later)")


class Server(uvicorn.Server):
    """uvicorn's server without its ten wake-ups a second.

    uvicorn polls for a stop request every 100 ms; at 30 pictures a second those wake-ups
    cost a live stream about a third of a wake-up per picture.  This one sleeps until a
    stop signal arrives, waking once a second only to refresh the Date header.
    """

    _loop: asyncio.AbstractEventLoop | None = None
    _exit_event: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._exit_event = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # uvicorn refreshes its headers when counter % 10 == 0
            try:
                await asyncio.wait_for(self._exit_event.wait(), 1.0)
            except TimeoutError:
                pass

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and self._exit_event is not None:
            try:
                self._loop.call_soon_threadsafe(self._exit_event.set)
            except RuntimeError:
                pass  # the loop already closed


def config(app: str | Callable[..., Any], options: dict[str, Any]) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` with uvicorn's public ``options`` and our protocol."""
    _state["ours"] = True
    return uvicorn.Config(app, http=StreamProtocol, **options)


def run(app: str, options: dict[str, Any], sockets: list[socket.socket] | None = None) -> bool:
    """Serve ``app`` in this process until a stop signal; False if it never started."""
    server = Server(config(app, options))
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    return server.started


def bind(app: str, options: dict[str, Any]) -> socket.socket:
    """The listening socket ``options`` ask for, to share between worker processes."""
    return config(app, options).bind_socket()
