"""The C heap of a long-running program: few arenas, freed memory handed back to the OS.

glibc gives every thread that allocates its own heap arena (up to eight per core), and an
arena keeps its freed blocks for later; a program with encoder, closer, indexer or watchdog
threads then holds a few MB per thread that it never needs at once.  Two arenas keep the
main thread's allocations apart from the helpers' (little lock contention) and saved about
2-4 MB per program in the tree (tests/bench/tree_bench.py).  Start-up work (building
textures, importing encoders) leaves large freed blocks in the heap: :func:`trim` returns them.
"""
from __future__ import annotations

import ctypes

M_ARENA_MAX = -8       # mallopt parameter number in glibc's malloc.h
ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def limit_arenas() -> None:
    """At most :data:`ARENAS` heap arenas; to be called before the program starts threads."""
    libc = _libc()
    try:
        if libc is not None:
            libc.mallopt(M_ARENA_MAX, ARENAS)
    except AttributeError:
        pass  # not glibc: its own allocator decides


def trim() -> None:
    libc = _libc()
    try:
        if libc is not None:
            libc.malloc_trim(0)
    except AttributeError:
        pass  # not glibc: nothing to do
