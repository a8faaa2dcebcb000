"""The capture process's watchdog: a camera stack that blocks must not stop recording.

supervisord restarts only a process that exits.  When the camera blocks (in a capture, or
in ``stop()``/``close()`` on the way out) the process would stay alive with no frames for
ever, so a thread checks that frames keep being published; after ``camera.watchdog_seconds``
without one it logs what the process was doing and ends it at once with ``os._exit``
(no clean-up that could block too), and supervisord starts a fresh one.
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger("capture")
EXIT_HUNG = 3


class Watchdog:
    def __init__(self, seconds: float, camera: int, exit: Callable[[int], None] = os._exit) -> None:
        self.seconds = seconds
        self.camera = camera
        self.doing = "starting"          # what the process is doing, for the log line
        self._exit = exit
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._last = time.monotonic()
        self._thread.start()
        return self

    def feed(self) -> None:
        """A frame was published."""
        self._last = time.monotonic()

    def phase(self, doing: str, watched: bool = True) -> None:
        """What comes next (opening, capturing, closing); the clock starts again.

        ``watched=False``: a step that cannot hang (our own computation) is not timed; the
        next phase or frame starts the clock again."""
        self.doing = doing
        self._last = time.monotonic() if watched else math.inf

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        tick = min(0.5, self.seconds / 4)
        while not self._stop.wait(tick):
            silent = time.monotonic() - self._last
            if silent > self.seconds:
                log.critical("camera %d: no frame published for %.1f s while %s (watchdog_seconds = %g): "
                             "the camera stack is hung; exiting so the supervisor starts a fresh process",
                             self.camera, silent, self.doing, self.seconds)
                for handler in logging.getLogger().handlers:
                    try:
                        handler.flush()
                    except Exception:
                        pass
                self._exit(EXIT_HUNG)
                return
