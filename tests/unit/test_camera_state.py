"""What the streamer says about a camera without pictures, from the capture's status document."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from common.config import load
from common.state.board import StatusBoard, capture_status_name
from streamer.live import CameraWatch


def test_state_and_reason_come_from_a_running_capture(tmp_path: Path, sht_env: dict[str, str]) -> None:
    cfg = load(sht_env)
    board = StatusBoard.for_config(cfg)
    watch = CameraWatch(cfg)
    try:
        assert watch.camera(1)["state"] == "no signal" and watch.camera(1)["reason"] is None
        board.publish(capture_status_name(1), {"state": "not connected", "pid": os.getpid(),
                                               "reason": "camera 1 not connected (libcamera lists 1 camera; ...)"})
        cam = watch.camera(1)
        assert (cam["live"], cam["state"]) == (False, "not connected") and cam["reason"].startswith("camera 1 not")
        board.publish(capture_status_name(0), {"state": "off", "pid": os.getpid(), "reason": "live view off: x"})
        assert watch.camera(0)["state"] == "off"
        # The process that said so is gone: no claim is made for it any more ...
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
        board.publish(capture_status_name(1), {"state": "not connected", "pid": int(gone), "reason": "old"})
        assert watch.camera(1)["state"] == "no signal"
        # ... except an error it exited with (exit code 2: supervisord leaves it stopped).
        board.publish(capture_status_name(1), {"state": "error", "pid": int(gone), "reason": "cannot be imported"})
        assert (watch.camera(1)["state"], watch.camera(1)["reason"]) == ("error", "cannot be imported")
        board.publish(capture_status_name(1), {"state": "live", "pid": os.getpid(), "reason": ""})
        assert watch.camera(1)["state"] == "no signal"   # says live, but its ring has no fresh frame
    finally:
        watch.close()


def test_health_reports_a_camera_that_is_not_connected(tmp_path: Path, sht_env: dict[str, str]) -> None:
    from common.archive.index import ArchiveIndex
    from common.state.controls import Controls
    from streamer.archive.health import health

    cfg = load(sht_env)
    board = StatusBoard.for_config(cfg)
    board.publish(capture_status_name(1), {"state": "not connected", "pid": os.getpid(),
                                           "reason": "camera 1 not connected"})
    watch = CameraWatch(cfg)
    try:
        captures = {cam: (watch.camera(cam)["state"], watch.camera(cam)["reason"]) for cam in (0, 1)}
    finally:
        watch.close()
    index = ArchiveIndex(cfg.recordings_root)
    try:
        h = health(cfg, index, board, Controls(cfg.run_dir), captures=captures)
    finally:
        index.close()
    cam1 = h["cameras"]["1"]
    assert cam1["capture"] == {"state": "not connected", "reason": "camera 1 not connected", "reason_code": None}
    assert cam1["status"] == "failing" and any("not connected" in r for r in cam1["reasons"])
    assert h["status"] == "failing"
