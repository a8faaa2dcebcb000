"""What every answer tells the browser: no framing, no type sniffing, no footage in caches.

The page runs only its own files (a strict Content-Security-Policy: no inline script or
style, nothing from elsewhere) and may not be framed by another site (``frame-ancestors
'none'`` and ``X-Frame-Options``), so no page can be laid over it and clicked into pausing
the recording.  Referrers go to this server only ("same-origin": a POST keeps its
``Origin``, which the access check needs).  Everything but the page's own files is
private, as footage, snapshots and status are: ``Cache-Control: private, no-store`` unless
the route says otherwise.

A pure ASGI middleware: it adds to the response head and passes every other message on.
"""
from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from streamer.auth.access import PUBLIC_PREFIXES
from streamer.auth.middleware import HttpMiddleware

# blob: is the low-data view's MediaSource; everything else comes from this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self' blob:; "
       "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PRIVATE = "private, no-store"
EVERY_ANSWER: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
PRIVATE_ANSWER = [*EVERY_ANSWER, (b"cache-control", PRIVATE.encode())]


class BrowserPolicy(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        extra = EVERY_ANSWER if scope["path"].startswith(PUBLIC_PREFIXES) else PRIVATE_ANSWER

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                have = {name.lower() for name, _ in headers}
                message = {**message, "headers": headers + [h for h in extra if h[0] not in have]}
            await send(message)

        await self.app(scope, receive, send_with_policy)
