"""The shape of the streamer's pure ASGI middlewares: they look at HTTP requests only.

Lifespan and any other scope pass straight through; a subclass says what it does with a
request in :meth:`HttpMiddleware.http`.
"""
from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
