"""What every camera source gives the capture loop: the :class:`Source` interface.

A source hands out one captured frame at a time; the loop then lets the frame fill the
two ring slots (hd and sd, I420; sizes in :data:`common.ipc.frame_layout.STREAMS`) in place
and releases it.  Which source a camera uses: :mod:`capture.sources.registry`.  This module
imports no source, so every source can import it.
"""
from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from common.video.i420 import Planes

__all__ = ["CameraAbsent", "CameraFailed", "CameraStackBroken", "CapturedFrame", "Planes", "SliceTimeout",
           "Source", "wait_in_slices"]

T = TypeVar("T")


class CameraFailed(Exception):
    """The camera stopped delivering; the process exits so the supervisor starts a fresh one."""


class CameraAbsent(Exception):
    """The camera is not connected: a state to show and wait in, not a failure to restart on."""


class CameraStackBroken(Exception):
    """The camera software cannot work (e.g. picamera2 fails to import): exit 2, fix the install."""


@dataclass(eq=False)
class CapturedFrame(ABC):
    """A frame held by the source until released.  Times are CLOCK_MONOTONIC / wall ns;
    each source's frame adds what it needs to fill the rings (its request, its pictures)."""

    mono_ns: int
    wall_ns: int

    @abstractmethod
    def fill(self, hd: Planes, sd: Planes) -> None:
        """Copy (or render) the picture into the hd and sd ring slots."""

    def release(self) -> None:  # noqa: B027 (a source with nothing to give back keeps it)
        """Give buffers back to the camera (Picamera2 requests must always be released)."""


@runtime_checkable
class Source(Protocol):
    """A camera as the capture loop drives it; every source implements all of it."""

    kind: str                      # "synthetic", "picamera2", "file", "v4l2": shown in the ring and status

    @property
    def missed(self) -> int:
        """Frames lost at the source so far (the camera made them, nobody saw them)."""
        ...

    def start(self) -> None:
        """Open and start the camera; CameraFailed when it cannot."""
        ...

    def capture(self, timeout: float) -> CapturedFrame | None:
        """The next frame; None only after interrupt(); CameraFailed after ``timeout`` s without one."""
        ...

    def interrupt(self) -> None:
        """Make a waiting capture() return None soon (called from the SIGTERM/SIGINT handler)."""
        ...

    def close(self) -> None:
        """Stop the camera and free it; safe to call when start() failed or never ran."""
        ...


class SliceTimeout(Exception):
    """One slice of a wait passed without a frame; the wait goes on until its deadline."""


def wait_in_slices(attempt: Callable[[float], T], timeout: float, slice_s: float,
                   interrupted: threading.Event, silent: str) -> T | None:
    """Call ``attempt(seconds)`` until it returns a frame; None once ``interrupted`` is set.

    Waits are cut into slices so a stop request (SIGTERM) is seen within one slice;
    ``attempt`` raises :class:`SliceTimeout` when its slice passes without a frame.
    After ``timeout`` s without one: CameraFailed(``silent``).
    """
    deadline = time.monotonic() + timeout
    while not interrupted.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CameraFailed(silent)
        try:
            return attempt(min(slice_s, remaining))
        except SliceTimeout:
            continue
    return None
