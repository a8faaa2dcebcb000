"""Serving the app: uvicorn with our stream protocol, and several workers on one socket.

What the rest of the streamer uses: a stream's :class:`Connection` (found with
:func:`lookup`), :func:`announce` and :func:`admit_connections` for the app, and the
worker entry points for ``python -m streamer``.
"""
from streamer.server.transport import Connection, admit_connections, announce, lookup
from streamer.server.workers import APP, run_one, serve, uvicorn_options

__all__ = ["APP", "Connection", "admit_connections", "announce", "lookup", "run_one", "serve", "uvicorn_options"]
