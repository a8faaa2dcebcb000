"""Several streamer workers on one socket, stopped together within the shutdown budget.

This process binds the socket once, starts the workers, passes a stop signal on to them
at once (uvicorn's own supervisor looks for signals only every half second, which would
eat most of the one-second budget) and restarts a worker that dies.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import time
from typing import Any

from streamer.server import transport

APP = "streamer.app:create_app"   # a factory: each worker process builds its own app
SHUTDOWN_GRACE_S = 0.5   # open streams end at once; this only bounds a stuck one
WORKER_CHECK_S = 0.1
RESTART_GAP_S = 1.0      # a worker that keeps dying is restarted at most this often
STOP_WAIT_S = 0.9
PR_SET_PDEATHSIG = 1

log = logging.getLogger("streamer")


def _factory(options: dict[str, Any]) -> dict[str, Any]:
    return {**options, "factory": True}


def run_one(options: dict[str, Any]) -> int:
    """One worker in this process."""
    return 0 if transport.run(APP, _factory(options)) else 3  # 3: uvicorn's start-up failure code


def uvicorn_options(host: str, port: int) -> dict[str, Any]:
    # proxy_headers off: a viewer is the socket's peer address; a forwarded-for header from a
    # local process must not let it pose as another address and slip past the viewer limit.
    return {"host": host, "port": port, "lifespan": "on", "proxy_headers": False,
                "access_log": False, "timeout_graceful_shutdown": SHUTDOWN_GRACE_S, "log_level": "info"}


def _worker(options: dict[str, Any], sock: socket.socket, parent: int) -> None:
    # If the parent is killed outright, the workers must go too, or they would hold the port.
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        return
    transport.run(APP, _factory(options), sockets=[sock])


def serve(options: dict[str, Any], workers: int) -> int:
    sock = transport.bind(APP, _factory(options))
    ctx = multiprocessing.get_context("spawn")
    stopping: list[int] = []
    procs: list[Any] = []
    started: list[float] = []

    def on_signal(sig: int, _frame: object) -> None:
        stopping.append(sig)
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)

    def spawn() -> Any:
        proc = ctx.Process(target=_worker, args=(options, sock, os.getpid()))
        proc.start()
        return proc

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for _ in range(workers):
        procs.append(spawn())
        started.append(time.monotonic())
    log.info("serving on %s:%d with %d workers", options["host"], options["port"], workers)
    while not stopping:
        time.sleep(WORKER_CHECK_S)
        for i, proc in enumerate(procs):
            if not proc.is_alive() and not stopping and time.monotonic() - started[i] >= RESTART_GAP_S:
                log.warning("worker %s ended with code %s: starting a new one", proc.pid, proc.exitcode)
                procs[i], started[i] = spawn(), time.monotonic()
    deadline = time.monotonic() + STOP_WAIT_S
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.kill()
            proc.join()
    sock.close()
    return 0
