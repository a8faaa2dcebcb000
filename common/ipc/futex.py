"""Cross-process wake-up on a 32-bit word in shared memory (Linux futex).

The ring's writer bumps a word and wakes every waiter with one syscall; readers sleep
in the kernel (no polling, no CPU) until the word changes or a timeout passes.  ctypes
releases the GIL around the call, so a waiting thread does not hold up its process.
Where the syscall is unavailable, :func:`wait` falls back to short sleeps.
"""
from __future__ import annotations

import ctypes
import os
import platform
import time
from collections.abc import Callable

FUTEX_WAIT = 0
FUTEX_WAKE = 1
_WAKE_ALL = 0x7FFFFFFF

# SYS_futex differs per architecture.
_SYSCALL_NUMBERS = {"x86_64": 202, "aarch64": 98, "armv7l": 240, "armv6l": 240, "i686": 240, "i386": 240}


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _load_syscall() -> tuple[Callable[..., int] | None, int | None]:
    number = _SYSCALL_NUMBERS.get(platform.machine())
    if number is None or os.environ.get("SHT_NO_FUTEX"):
        return None, None
    libc = ctypes.CDLL(None, use_errno=True)
    fn = libc.syscall
    fn.restype = ctypes.c_long
    fn.argtypes = [ctypes.c_long, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint,
                   ctypes.POINTER(_Timespec), ctypes.c_void_p, ctypes.c_uint]
    return fn, number


_syscall, _SYS_FUTEX = _load_syscall()
AVAILABLE = _syscall is not None
_POLL_SECONDS = 0.001


def wait(address: int, expected: int, timeout: float, read_word: Callable[[], int]) -> None:
    """Sleep while the word at ``address`` equals ``expected``, at most ``timeout`` s.

    Returns on a wake-up, a changed word, a signal or the timeout; callers re-check
    their condition.  ``read_word`` is used only by the polling fallback.
    """
    if timeout <= 0:
        return
    if _syscall is None:
        deadline = time.monotonic() + timeout
        while read_word() == expected and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        return
    sec = int(timeout)
    ts = _Timespec(sec, int((timeout - sec) * 1e9))
    _syscall(_SYS_FUTEX, address, FUTEX_WAIT, expected & 0xFFFFFFFF, ctypes.byref(ts), None, 0)


def wake_all(address: int) -> None:
    if _syscall is not None:
        _syscall(_SYS_FUTEX, address, FUTEX_WAKE, _WAKE_ALL, None, None, 0)
