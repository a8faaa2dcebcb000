"""Start-up of a program of the system: its log lines, its heap, its configuration."""
from __future__ import annotations

import logging
import sys

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
