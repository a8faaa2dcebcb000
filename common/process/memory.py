"""Hand freed heap memory back to the OS.

Start-up work (building textures, importing encoders) leaves large freed blocks in the
C heap; glibc keeps them, and they would count in the process's RSS for its whole life.
"""
from __future__ import annotations

import ctypes


def trim() -> None:
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to do
