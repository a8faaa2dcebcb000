"""An in-process test client whose requests come from a chosen address.

Starlette's ``TestClient`` names its peer "testclient" (an address the access rules refuse),
and takes a ``client=`` address only from 0.44; the app is wrapped instead, so the tests
run on every Starlette the requirements accept.
"""
from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send


def from_address(app: ASGIApp, host: str = "127.0.0.1", port: int = 40000) -> ASGIApp:
    """``app``, with every HTTP and WebSocket request coming from ``(host, port)``."""
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "client": (host, port)}
        await app(scope, receive, send)
    return wrapped


def local_client(app: ASGIApp, port: int = 40000, **kwargs: Any) -> TestClient:
    """A test client for ``app`` reached from this machine (127.0.0.1)."""
    return TestClient(from_address(app, "127.0.0.1", port), base_url="http://127.0.0.1", **kwargs)
