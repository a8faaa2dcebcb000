"""Serving the app: uvicorn with our stream protocol, and several workers on one socket.

What the rest of the streamer uses: a stream's :class:`Connection` (found with
:func:`lookup`), :func:`announce` and :func:`admit_connections` for the app, whether a
request came on a reserve connection (:func:`provisional`, answered with ``BUSY`` unless
an admin's), and the worker entry points for ``python -m streamer``.
"""
from streamer.server.caps import BUSY
from streamer.server.transport import Connection, admit_connections, announce, lookup, provisional
from streamer.server.workers import APP, run_one, serve, uvicorn_options

__all__ = ["APP", "BUSY", "Connection", "admit_connections", "announce", "lookup", "provisional", "run_one",
           "serve", "uvicorn_options"]
