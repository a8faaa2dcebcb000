"""Start-up of a process that serves one camera (capture, recorder)."""
from __future__ import annotations

import logging
import sys

from common.config import Config, load_or_exit


def start_camera_process(camera: int) -> Config:
    """Log lines tagged with the camera, then the configuration; a ``--camera`` that is not
    one of ``camera.count`` gets one clear line and exit code 2."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s %(name)s[cam{camera}] %(levelname)s %(message)s")
    cfg = load_or_exit()
    if not 0 <= camera < cfg.camera.count:
        print(f"--camera {camera}: allowed values are 0 to {cfg.camera.count - 1} (camera.count)", file=sys.stderr)
        raise SystemExit(2)
    return cfg
