"""A full memory barrier for code in Python: what keeps the rings' seqlocks in order on ARM.

A seqlock needs the writer's stores seen in program order at two points (the odd ``seq``
before the frame, the frame before the even ``seq``) and the reader's loads done in order
(``seq``, then the frame, then ``seq`` again).  x86 gives both for plain loads and stores.
The Pi 5's Cortex-A76 (Armv8.2-A) does not: plain loads and stores to different addresses
may be seen out of order by another core, unless a barrier (``dmb``) or an acquire/release
instruction stands between them.  CPython and numpy execute none on those paths: the
interpreter's stores into the map are ``struct.pack_into`` and numpy copies (plain
``memcpy``/``str``), and between them it runs plain loads and stores of its own; the GIL and
the futex syscall that wakes readers are no barriers for the ring's memory by contract
(entering the kernel is not one on ARM).

So the rings call :func:`fence` at those points.  It is Linux's ``membarrier(2)`` with
``MEMBARRIER_CMD_PRIVATE_EXPEDITED``: the kernel runs ``smp_mb()`` (``dmb ish`` on arm64) in
the calling thread before and after the command, and a barrier on the process's other
running threads, which costs an interrupt to each CPU running one of them.  It needs
Linux 4.14 and one registration per process (done at import).  Where the call is refused
(older kernel, a seccomp filter), :data:`MECHANISM` says so and :func:`fence` does nothing:
on x86 nothing is lost, on ARM the self-check reports it.
"""
from __future__ import annotations

import ctypes
import platform
from collections.abc import Callable

_MEMBARRIER = {"x86_64": 324, "aarch64": 283, "armv7l": 389, "armv6l": 389, "i686": 375, "i386": 375}
_PRIVATE_EXPEDITED = 1 << 3
_REGISTER_PRIVATE_EXPEDITED = 1 << 4
STRONGLY_ORDERED = ("x86_64", "i686", "i386")   # loads and stores seen in program order (TSO)


def _load() -> tuple[Callable[[], object] | None, str]:
    number = _MEMBARRIER.get(platform.machine())
    if number is None:
        return None, f"none: membarrier's number on {platform.machine()} is not known"
    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError) as exc:
        return None, f"none: no libc syscall() ({exc})"
    syscall.restype = ctypes.c_long
    syscall.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_uint, ctypes.c_int]
    if syscall(number, _REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0:
        errno = ctypes.get_errno()
        return None, f"none: membarrier refused ({errno}: {_strerror(errno)})"
    if syscall(number, _PRIVATE_EXPEDITED, 0, 0) != 0:
        errno = ctypes.get_errno()
        return None, f"none: membarrier refused ({errno}: {_strerror(errno)})"

    def barrier() -> object:
        # The registration is kept across fork() and dropped by exec(); should a process
        # ever lack it, register again rather than run without the barrier.
        if syscall(number, _PRIVATE_EXPEDITED, 0, 0) != 0:
            syscall(number, _REGISTER_PRIVATE_EXPEDITED, 0, 0)
            return syscall(number, _PRIVATE_EXPEDITED, 0, 0)
        return 0
    return barrier, "membarrier(PRIVATE_EXPEDITED)"


def _strerror(errno: int) -> str:
    import os
    return os.strerror(errno)


_barrier, MECHANISM = _load()
AVAILABLE = _barrier is not None


def fence() -> None:
    """Every load and store before this call is done, as other cores see it, before any after it."""
    if _barrier is not None:
        _barrier()


def unordered_risk() -> str:
    """'' when the rings are ordered on this machine, else why a reader could see a torn frame."""
    if AVAILABLE or platform.machine() in STRONGLY_ORDERED:
        return ""
    return (f"no memory barrier on {platform.machine()} ({MECHANISM}): a reader could, rarely, take a frame "
            f"being overwritten")
