"""Stress runs of a shared-memory ring: reader processes check everything they read while a
writer process is killed mid-life and a second writer takes the ring over."""
from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Callable
from typing import Any

CTX = mp.get_context("fork")


def readers_across_a_writer_restart(writer: Callable[..., None], writer_args: tuple[Any, ...],
                                    reader: Callable[..., None],
                                    reader_args: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Run ``reader(*args, stop, results)`` in a process for each of ``reader_args`` while
    ``writer(*writer_args, True)`` runs until it kills itself and ``writer(*writer_args, False)``
    runs to its end; return the result every reader put in ``results`` once stopped."""
    stop, results = CTX.Event(), CTX.Queue()
    readers = [CTX.Process(target=reader, args=(*args, stop, results)) for args in reader_args]
    for p in readers:
        p.start()
    try:
        first = CTX.Process(target=writer, args=(*writer_args, True))
        first.start()
        first.join(30)
        assert first.exitcode == -signal.SIGKILL
        second = CTX.Process(target=writer, args=(*writer_args, False))
        second.start()
        second.join(30)
        assert second.exitcode == 0
    finally:
        stop.set()
        got = [results.get(timeout=30) for _ in readers]
        for p in readers:
            p.join(10)
    return got
