"""``python -m capture --check``: the report a Pi owner pastes, and its exit code."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from tests.support.fake_camera import FAKES
from tests.support.procs import REPO, wait_until


def check(env: dict[str, str], seconds: float = 2.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "capture", "--check", "--seconds", str(seconds)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)


def lines(out: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def test_check_without_a_camera_runs_on_the_synthetic_source(sht_env) -> None:
    done = check(dict(sht_env, SHT__CAMERA__SOURCE="auto"))
    assert done.returncode == 0, done.stdout + done.stderr
    got = lines(done.stdout)
    assert got["picamera2"] == "not installed" and got["RESULT"] == "OK, everything needed works"
    for cam in ("camera 0", "camera 1"):
        assert got[cam].startswith("synthetic (auto: no Pi camera found")
        assert "hd 1280x720 and sd 640x480 at" in got[cam]
    assert got["H.264 encoder"].startswith("libx264") and "% of one core at 30 fps" in got["H.264 at 720p"]
    assert {"480p", "720p", "dual 480p", "dual 720p"} <= {
        part.split(" ")[0] if not part.startswith("dual") else " ".join(part.split(" ")[:2])
        for part in got["JPEG per view (quality 80, CPU per frame)"].split(", ")}
    for name in ("numpy", "simplejpeg", "PyAV", "libcamera", "disk", "machine"):
        assert got[name], name
    assert "Traceback" not in done.stderr


def test_check_with_pi_cameras_reports_modes_colours_and_a_missing_camera(sht_env, tmp_path: Path) -> None:
    env = dict(sht_env, PYTHONPATH=str(FAKES), SHT__CAMERA__SOURCE="auto", FAKE_PICAMERA2_LOCK_DIR=str(tmp_path))
    done = check(env)
    assert done.returncode == 0, done.stdout + done.stderr
    got = lines(done.stdout)
    assert got["Pi cameras"] == "2 listed by libcamera"
    assert got["picamera2"].endswith(f"({FAKES}/picamera2/__init__.py)")
    assert got["camera 0 sensor modes"].startswith("1536x864 @120.1 fps 10-bit; 2304x1296")
    assert got["camera 1"].startswith("picamera2 (auto: a Pi camera was found): hd 1280x720 and sd 640x480 at")
    assert "colour space Sycc (full range, Rec601 matrix)" in got["camera 1"]
    done = check(dict(env, FAKE_PICAMERA2_CAMERAS="1"))
    assert done.returncode == 1
    got = lines(done.stdout)
    assert got["camera 1"].startswith("PROBLEM: picamera2: camera 1 not connected (libcamera lists 1 camera;")
    assert got["RESULT"].startswith("1 problem(s): camera 1: picamera2: camera 1 not connected")


def test_check_leaves_a_camera_owned_by_a_running_capture_alone(procs, sht_env) -> None:
    procs.capture(0)
    reader = RingReader(ring_name(sht_env["SHT__RING__PREFIX"], 0, "hd"))
    try:
        wait_until(lambda: reader.status().live(), 20)
        done = check(sht_env)
    finally:
        reader.close()
    assert done.returncode == 0, done.stdout + done.stderr
    cam0 = lines(done.stdout)["camera 0"]
    assert "owned by the running capture process (pid" in cam0 and "its ring was measured" in cam0
    assert procs.stop("capture0") == 0
