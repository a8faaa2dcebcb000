"""``python -m streamer [--workers N] [--port P] [--host H]``: the live view server.

Serves on ``streamer.host``:``streamer.port``.  SIGINT/SIGTERM close the open streams and
the process exits within a second.  Exit code 2 for a bad configuration or command line.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

from common.config import load_or_exit
from common.process.priority import lower_priority
from streamer.live import remove_shared_files
from streamer.server import APP, run_one, serve, uvicorn_options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamer", description="Serve the live camera views.")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: streamer.server.workers)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: streamer.port)")
    parser.add_argument("--host", default=None, help="address to listen on (default: streamer.host)")
    args = parser.parse_args(argv)
    cfg = load_or_exit()
    workers = cfg.streamer.workers if args.workers is None else args.workers
    if not 1 <= workers <= 8:
        print(f"--workers {workers}: allowed values are 1 to 8", file=sys.stderr)
        return 2
    port = cfg.streamer.port if args.port is None else args.port
    if not 1 <= port <= 65535:
        print(f"--port {port}: allowed values are 1 to 65535", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s",
                        stream=sys.stderr)
    # The app and its libraries load before the priority drops: at nice 10 on a busy machine
    # the imports alone took seconds, and every viewer waits on them after a restart.
    importlib.import_module(APP.split(":")[0])
    lower_priority(cfg.streamer.nice, "streamer")
    options = uvicorn_options(args.host or cfg.streamer.host, port)
    # uvicorn re-raises SIGTERM/SIGINT after its shutdown; with these handlers in place
    # that re-raise returns here, so the shared viewer table is removed and the exit code is 0.
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    try:
        if workers == 1:
            return run_one(options)
        return serve(options, workers)
    finally:
        remove_shared_files(cfg)


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown: everything is closed and removed by now, and
    at nice 10 on a busy machine that teardown alone outlasted supervisord's stopwaitsecs."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _ignore(*_: object) -> None:
    pass


if __name__ == "__main__":
    exit_now(main())
