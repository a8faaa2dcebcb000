"""The rpicam-vid engine picks its camera and sensor mode from ``rpicam-vid --list-cameras``:
the whole field of view, and a camera pinned by camera.ids by its connector."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import load
from recorder.rpicam import RpicamRecorder
from recorder.rpicam_cameras import PinError, camera_args, list_cameras, parse
from tests.support.procs import REPO, isolated_env, wait_until

FAKE = REPO / "tests" / "fakes" / "rpicam-vid"
PICTURE = (1280, 720)

# As published in raspberrypi/linux issue 5438 (a Camera Module 2 on a Pi 4), shortened.
PUBLISHED = """Available cameras
-----------------
0 : imx219 [3280x2464] (/base/soc/i2c0mux/i2c@1/imx219@10)
    Modes: 'SRGGB10_CSI2P' : 640x480 [103.33 fps - (1000, 752)/1280x960 crop]
                             1640x1232 [41.85 fps - (0, 0)/3280x2464 crop]
                             1920x1080 [47.57 fps - (680, 692)/1920x1080 crop]
           'SRGGB8' : 640x480 [103.33 fps - (1000, 752)/1280x960 crop]
                      1640x1232 [41.85 fps - (0, 0)/3280x2464 crop]
"""


def test_a_published_listing_is_read_with_every_mode() -> None:
    (cam,) = parse(PUBLISHED)
    assert (cam.number, cam.model, cam.id) == (0, "imx219", "/base/soc/i2c0mux/i2c@1/imx219@10")
    assert [(m["size"], m["bit_depth"], m["packed"]) for m in cam.modes] == [
        ((640, 480), 10, True), ((1640, 1232), 10, True), ((1920, 1080), 10, True),
        ((640, 480), 8, False), ((1640, 1232), 8, False)]
    assert cam.modes[2]["crop_limits"] == (680, 692, 1920, 1080) and cam.modes[2]["fps"] == 47.57
    assert camera_args([cam], 0, "", PICTURE, 30) == ["--camera", "0", "--mode", "1640:1232:10:P"]


def _fake_listing(monkeypatch: pytest.MonkeyPatch, ports: str, sensors: str):
    monkeypatch.setenv("FAKE_PICAMERA2_PORTS", ports)
    monkeypatch.setenv("FAKE_PICAMERA2_SENSORS", sensors)
    cameras, why = list_cameras(str(FAKE))
    assert not why
    return cameras


@pytest.mark.slow
def test_the_pinned_camera_is_found_by_its_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    cameras = _fake_listing(monkeypatch, "0,1", "imx477,imx708")
    assert [c.model for c in cameras] == ["imx477", "imx708"]        # CAM0 first
    assert camera_args(cameras, 0, "i2c@80000", PICTURE, 30) == ["--camera", "1", "--mode", "2304:1296:10:P"]
    assert camera_args(cameras, 1, "", PICTURE, 30) == ["--camera", "1", "--mode", "2304:1296:10:P"]
    assert camera_args(cameras, 0, "", PICTURE, 30) == ["--camera", "0", "--mode", "2028:1520:12:P"]
    alone = _fake_listing(monkeypatch, "1", "imx708")
    with pytest.raises(PinError, match="pinned to 'i2c@88000'"):
        camera_args(alone, 0, "i2c@88000", PICTURE, 30)


@pytest.mark.slow
def test_the_recorder_starts_rpicam_vid_on_the_pinned_camera_or_not_at_all(monkeypatch: pytest.MonkeyPatch,
                                                                           tmp_path: Path) -> None:
    log = tmp_path / "commands.txt"
    monkeypatch.setenv("FAKE_RPICAM_LOG", str(log))
    monkeypatch.setenv("FAKE_PICAMERA2_PORTS", "1")
    env = isolated_env(tmp_path / "sht", recorder__engine="rpicam-vid", recorder__rpicam_vid=str(FAKE))
    rec = RpicamRecorder(load(dict(env, SHT__CAMERA__IDS='["i2c@80000", "i2c@88000"]')), 0)
    rec.work.mkdir(parents=True, exist_ok=True)
    try:
        rec._spawn()
        assert rec.proc is not None
        assert wait_until(lambda: log.exists() and "--camera 0 --mode 2304:1296:10:P" in log.read_text(), 20)
        missing = RpicamRecorder(load(dict(env, SHT__CAMERA__IDS='["i2c@80000", "i2c@88000"]')), 1)
        missing._spawn()
        assert missing.proc is None and "camera 1 is pinned to 'i2c@88000'" in missing.status()["last_error"]
    finally:
        rec._reap()


def test_the_fake_lists_like_rpicam_apps() -> None:
    env = dict(os.environ, FAKE_PICAMERA2_PORTS="1", FAKE_PICAMERA2_SENSORS="ov5647", PYTHONPATH="")
    out = subprocess.run([sys.executable, str(FAKE), "--list-cameras"], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert out.splitlines()[2] == "0 : ov5647 [2592x1944 10-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@80000/ov5647@36)"
    assert "'SGBRG10_CSI2P' : 640x480 [58.92 fps - (16, 0)/2560x1920 crop]" in out
