"""Start-up of a program of the system: its log lines, its heap, its configuration, the stop
signal until its own handlers take over, and the waits before there is work (switched off,
disk not there yet)."""
from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable

from common.config import Config, load_or_exit
from common.process.memory import limit_arenas, no_huge_pages


def start_process(tag: str = "") -> Config:
    """Log lines (tagged ``[tag]`` when given) on stderr, few heap arenas and no huge pages,
    then the configuration (exit 2 when it is bad)."""
    no_huge_pages()
    limit_arenas()   # before any thread: an arena is given to a thread at its first allocation
    label = f"%(name)s[{tag}]" if tag else "%(name)s"
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {label} %(levelname)s %(message)s")
    return load_or_exit()

def start_camera_process(camera: int) -> Config:
    """A process that serves one camera (capture, recorder): log lines tagged with the camera,
    then the configuration; a ``--camera`` that is not one of ``camera.count`` gets one clear
    line and exit code 2."""
    cfg = start_process(f"cam{camera}")
    if not 0 <= camera < cfg.camera.count:
        print(f"--camera {camera}: allowed values are 0 to {cfg.camera.count - 1} (camera.count)", file=sys.stderr)
        raise SystemExit(2)
    return cfg


class StopSignal:
    """SIGTERM or SIGINT seen while the program starts, before it puts its own handlers in place."""

    def __init__(self) -> None:
        self.seen = False
        signal.signal(signal.SIGTERM, self._set)
        signal.signal(signal.SIGINT, self._set)

    def _set(self, *_: object) -> None:
        self.seen = True

    def idle(self) -> int:
        """Wait for the stop signal and exit 0: a program switched off stays up, so the
        supervisor does not restart it in a loop."""
        while not self.seen:
            signal.pause()
        return 0

    def wait_while(self, problem: Callable[[], str], what: str, every_s: float, log: logging.Logger) -> bool:
        """Wait while ``problem()`` names one (logged once, as what keeps ``what`` from starting);
        False when the stop signal came meanwhile."""
        found = problem()
        if found:
            log.error("%s: %s starts once it is there", found, what)
        while found and not self.seen:
            time.sleep(every_s)
            found = problem()
        return not self.seen


def start_service() -> tuple[Config, StopSignal]:
    """Log lines and the configuration (exit 2 with the key named when it is wrong) of a program
    that serves every camera, and the stop signal watched from now on."""
    return start_process(), StopSignal()
