"""The fake Picamera2 (``tests/fakes``) as tests use it: where it is, and a process that holds a camera."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.support.procs import REPO

FAKES = REPO / "tests" / "fakes"    # on PYTHONPATH, it stands in for picamera2 and libcamera


def hold_camera(camera: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Another process that opens the camera and keeps it."""
    env = dict(os.environ if env is None else env, PYTHONPATH=str(FAKES))
    code = (f"from picamera2 import Picamera2; c = Picamera2({camera}); print('ready', flush=True); "
            "import time; time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc
