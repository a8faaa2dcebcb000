"""CPU priority: when the machine is short of CPU, recording wins over live view.

The streamer lowers its own priority (``streamer.nice``, a Unix nice value) at start, and
its workers and encoder threads inherit it.  Lowering needs no privilege, so this works
under any user; the capture processes and recorders keep the normal priority.
"""
from __future__ import annotations

import logging
import os

log = logging.getLogger("priority")


def lower_priority(nice: int, who: str) -> int:
    """Raise this process's nice value to at least ``nice``; returns the value now in force."""
    current = os.nice(0)
    if nice > current:
        try:
            current = os.nice(nice - current)
        except OSError as exc:
            log.warning("%s: cannot lower the CPU priority to nice %d: %s", who, nice, exc)
            return current
        log.info("%s: CPU priority lowered to nice %d (recording comes first)", who, current)
    _threads_to(current)
    return current


def _threads_to(nice: int) -> None:
    """Linux keeps a nice value per thread: threads started before the call (a library's
    thread pool, started at import) are lowered too."""
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return
    for tid in tids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:
            pass  # the thread ended meanwhile
