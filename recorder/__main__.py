"""``python -m recorder --camera N``: continuous recording of camera N.

Engines (``recorder.engine``):
* ``pyav`` (default): reads the camera's hd ring and encodes with PyAV.
* ``rpicam-vid``: records a camera that has no capture process (no live view).

Exit codes: 0 after SIGINT/SIGTERM, 2 for a bad configuration or command line, or when
the rpicam-vid engine is asked to record a camera that a capture process owns.
"""
from __future__ import annotations

import argparse
import signal
import sys

from common.process.startup import start_camera_process
from recorder.engine import RecorderEngine
from recorder.recording import Recorder
from recorder.rpicam import CameraOwned, RpicamRecorder

EXIT_REFUSED = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recorder", description="Record one camera in MP4 segments.")
    parser.add_argument("--camera", type=int, required=True, help="camera number (0 or 1)")
    args = parser.parse_args(argv)
    cfg = start_camera_process(args.camera)
    worker: RecorderEngine
    if cfg.recorder.engine == "rpicam-vid":
        worker = RpicamRecorder(cfg, args.camera)
        try:
            worker.check_camera_free()
        except CameraOwned as exc:
            print(f"recorder.engine = rpicam-vid: {exc}", file=sys.stderr)
            return EXIT_REFUSED
    else:
        worker = Recorder(cfg, args.camera)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
