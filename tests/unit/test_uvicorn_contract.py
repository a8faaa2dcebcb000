"""The uvicorn internals streamer/server/transport.py relies on, checked against the installed uvicorn.

transport.py is the only module that touches them (the rest of the streamer sees its
``Connection``).  An upgrade that renames, removes or changes one of them must fail here,
loudly, instead of silently slowing or breaking the streams.  Checked: the version is the
pinned one; the signatures of what transport.py overrides or calls; and, on a real server
in this process, every attribute and behaviour a stream uses.
"""
from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import signal
import socket
import threading
import time

import uvicorn
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol

from streamer.server import transport
from streamer.server.workers import uvicorn_options
from tests.support.multipart import Dechunk
from tests.support.procs import REPO, free_port, wait_until


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_the_installed_uvicorn_is_the_pinned_one():
    pin = re.search(r"^uvicorn==(\S+)", (REPO / "requirements.txt").read_text(), re.M)
    assert pin, "requirements.txt must pin uvicorn: transport.py extends its internals"
    assert re.fullmatch(re.escape(pin.group(1)).replace(r"\*", r"\d+"), uvicorn.__version__), \
        f"uvicorn {uvicorn.__version__} installed, {pin.group(1)} pinned"


def test_only_transport_touches_uvicorn():
    """Every other streamer module goes through transport's own interface."""
    offenders = []
    for path in sorted((REPO / "streamer").rglob("*.py")):
        if path.name == "transport.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] in ("uvicorn", "h11") for name in names):
                offenders.append(f"{path.name}:{node.lineno} imports {names}")
            if isinstance(node, ast.Attribute) and node.attr in ("flow", "transport", "write_paused"):
                offenders.append(f"{path.name}:{node.lineno} uses .{node.attr}")
    assert not offenders, offenders


def test_protocol_methods_extended_keep_their_signatures():
    assert _params(H11Protocol.__init__) == ["self", "config", "server_state", "app_state", "_loop"]
    assert _params(H11Protocol.connection_made) == ["self", "transport"]
    assert _params(H11Protocol.connection_lost) == ["self", "exc"]
    assert _params(H11Protocol.shutdown) == ["self"]
    # The transport calls these; they must hand over to the flow control the streams wait on.
    assert _params(H11Protocol.pause_writing) == ["self"] and _params(H11Protocol.resume_writing) == ["self"]
    assert issubclass(transport.StreamProtocol, H11Protocol)
    for name in ("connection_made", "connection_lost", "shutdown"):
        assert name in vars(transport.StreamProtocol)


def test_what_the_connection_defences_use():
    """The request-head timeout and the connection cap (transport.StreamProtocol)."""
    import h11
    assert _params(H11Protocol.data_received) == ["self", "data"]
    assert _params(H11Protocol.on_response_complete) == ["self"]
    for name in ("data_received", "on_response_complete"):
        assert name in vars(transport.StreamProtocol)
    source = inspect.getsource(H11Protocol)
    # The cap counts uvicorn's set of open connections; the timer asks h11 what it waits for.
    for needle in ("self.connections.add(self)", "self.conn = h11.Connection", "self.loop = "):
        assert needle in source, needle
    conn = h11.Connection(h11.SERVER)
    assert conn.their_state is h11.IDLE
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab")
    while conn.next_event() is not h11.NEED_DATA:
        pass
    assert conn.their_state is h11.SEND_BODY


def test_flow_control_pauses_and_drain_waits_for_resume():
    assert _params(FlowControl.__init__) == ["self", "transport"]
    assert inspect.iscoroutinefunction(FlowControl.drain) and _params(FlowControl.drain) == ["self"]

    async def main() -> None:
        flow = FlowControl(None)  # type: ignore[arg-type]   # only reading uses its transport
        assert flow.write_paused is False
        await asyncio.wait_for(flow.drain(), 1)
        flow.pause_writing()
        assert flow.write_paused is True
        waiter = asyncio.ensure_future(flow.drain())
        await asyncio.sleep(0.02)
        assert not waiter.done()
        flow.resume_writing()
        await asyncio.wait_for(waiter, 1)
        assert flow.write_paused is False
    asyncio.run(main())


def test_server_hooks_replaced_or_called():
    assert inspect.iscoroutinefunction(uvicorn.Server.main_loop) and _params(uvicorn.Server.main_loop) == ["self"]
    assert inspect.iscoroutinefunction(uvicorn.Server.on_tick)
    assert _params(uvicorn.Server.on_tick) == ["self", "counter"]
    assert _params(uvicorn.Server.handle_exit) == ["self", "sig", "frame"]
    assert _params(uvicorn.Server.run) == ["self", "sockets"]
    # The server's run goes through main_loop, which transport.Server replaces.
    assert "self.main_loop()" in inspect.getsource(uvicorn.Server._serve)
    server = transport.Server(uvicorn.Config(app=_app))
    assert server.started is False and server.should_exit is False
    server.config.load()

    async def main() -> None:
        server.server_state.default_headers = []
        assert await server.on_tick(10) is False          # counter % 10 == 0: headers refreshed
        assert any(name == b"date" for name, _ in server.server_state.default_headers)
        server.handle_exit(signal.SIGTERM, None)           # no loop yet: only the flag
        assert server.should_exit is True and await server.on_tick(11) is True
    asyncio.run(main())


def test_config_takes_our_protocol_and_the_options_passed():
    params = inspect.signature(uvicorn.Config.__init__).parameters
    options = uvicorn_options("127.0.0.1", free_port())
    for name in [*options, "http", "app"]:
        assert name in params, name
    config = transport.config(_app, options)
    config.load()
    assert config.http_protocol_class is transport.StreamProtocol
    for name, value in options.items():
        assert getattr(config, name) == value, name
    sock = config.bind_socket()
    try:
        assert sock.getsockname() == ("127.0.0.1", options["port"])
    finally:
        sock.close()


# -- on a real server ---------------------------------------------------------------------
seen: dict[str, object] = {}
client_may_read = threading.Event()


async def _app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    conn = transport.lookup(scope["client"])
    seen[scope["path"]] = conn is not None
    assert conn is not None
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    if scope["path"] == "/abort":
        conn.abort()
        seen["open_after_abort"] = conn.open
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    ended = asyncio.Event()
    conn.listen(ended)
    seen["fresh"] = (conn.open, conn.writable, conn.buffered, conn.closing)
    # The body is chunked (no length); the streamer writes its chunks itself, both ways.
    conn.write(b"5\r\nhello\r\n")
    fd = conn.dup_fd()
    assert fd >= 0
    os.writev(fd, [b"6\r\n", b" world", b"\r\n"])
    os.close(fd)
    # A client that does not read: the bounded buffers fill and the flow control pauses.
    conn.limit_pending(128 * 1024)
    block = b"%x\r\n%b\r\n" % (65536, bytes(65536))
    written = 0
    while conn.writable and written < 64 * 2**20:
        conn.write(block)
        written += 65536
    seen["paused"] = (not conn.writable, conn.buffered > 0, written)
    try:
        await asyncio.wait_for(conn.drain(), 0.3)
        seen["drained_while_unread"] = True
    except TimeoutError:
        seen["drained_while_unread"] = False
    client_may_read.set()
    await asyncio.wait_for(conn.drain(), 10)
    seen["drained"] = conn.writable
    await ended.wait()                     # set when the server shuts down
    seen["closing_on_shutdown"] = (conn.closing, conn.open)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _get(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    return sock


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(1 << 20):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_a_stream_uses_the_connection_interface_on_a_real_server():
    seen.clear()
    client_may_read.clear()
    port = free_port()
    options = {**uvicorn_options("127.0.0.1", port), "log_level": "warning"}
    server = transport.Server(transport.config(_app, options))
    runner = threading.Thread(target=server.run, daemon=True)
    runner.start()
    try:
        wait_until(lambda: server.started, 10)
        # A dropped connection: the client sees the end at once.
        dropped = _get(port, "/abort")
        assert b"HTTP/1.1 200" in _read_all(dropped)[:20]
        dropped.close()
        stream = _get(port, "/stream")
        assert client_may_read.wait(10), seen
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(_read_all(stream)), daemon=True)
        reader.start()
        wait_until(lambda: "drained" in seen, 10)
        t0 = time.monotonic()
        server.handle_exit(signal.SIGTERM, None)
        runner.join(5)
        took = time.monotonic() - t0
        reader.join(5)
    finally:
        server.should_exit = True
        runner.join(5)
    assert not runner.is_alive() and took < 2.0, took   # main_loop woke at once, the stream ended
    assert seen["/abort"] is True and seen["/stream"] is True and seen["open_after_abort"] is False
    assert seen["fresh"] == (True, True, 0, False)
    paused, buffered, written = seen["paused"]
    assert paused and buffered and written < 16 * 2**20, seen["paused"]
    assert seen["drained_while_unread"] is False and seen["drained"] is True
    assert seen["closing_on_shutdown"] == (True, True)
    head, _, body = got[0].partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    dechunk = Dechunk()
    data = dechunk.feed(body)
    assert data.startswith(b"hello world") and len(data) == 11 + written and dechunk.finished


def test_under_another_server_streams_are_told_to_fall_back_once(caplog, monkeypatch):
    monkeypatch.setattr(transport, "_state", {"ours": False, "told": False})
    with caplog.at_level("WARNING", logger="streamer"):
        assert transport.lookup(("127.0.0.9", 1)) is None
        transport.announce()
        transport.announce()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "plain ASGI" in messages[0], messages
