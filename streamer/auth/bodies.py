"""Request bodies: each route's largest, enforced before and while the body is read.

Only the login form takes a body (``login.MAX_BODY`` bytes); any other request that
carries one is answered 413 before its route runs.  Nothing past a limit is ever held: a
declared length over it is refused unread, and a chunked body is read only until it
passes it.  The server reads and drops the rest of a refused body while the connection
lasts (the request-head timeout ends it).

A pure ASGI middleware: a request without a body passes straight through.
"""
from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from streamer.auth.login import MAX_BODY
from streamer.auth.middleware import HttpMiddleware
from streamer.errors import error_response
from streamer.language import raw_language

LIMITS = {"/login": MAX_BODY}    # bytes; every other path takes none


def too_large(limit: int, lang: str) -> JSONResponse:
    return error_response(413, "body_too_large" if limit else "no_body", lang, limit_bytes=limit)


def declared(headers: list[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """The Content-Length (None if not given) and whether the body is chunked."""
    length, chunked = None, False
    for name, value in headers:
        if name == b"content-length":
            length = int(value) if value.strip().isdigit() else None   # the server refuses a bad one
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


async def read_within(receive: Receive, limit: int) -> bytes | None:
    """The whole body if it is at most ``limit`` bytes, else None as soon as it passes it."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)          # the client left: the route sees the disconnect next
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


class BodyLimit(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        length, chunked = declared(scope.get("headers") or [])
        if not chunked and not length:
            await self.app(scope, receive, send)
            return
        limit = LIMITS.get(scope["path"], 0)
        body = None if length is not None and length > limit else await read_within(receive, limit)
        if body is None:
            await too_large(limit, raw_language(scope.get("headers") or []))(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then whatever the server says next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()
    return replayed
