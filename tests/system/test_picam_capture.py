"""``python -m capture`` with the fake Picamera2: which source it picks, a silent, busy, broken
or missing camera, and stopping while it waits."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest

from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from common.state.board import capture_status_name
from tests.fakes.picamera2 import pattern
from tests.support.fake_camera import hold_camera
from tests.support.procs import status_board, wait_until


def test_capture_process_auto_picks_the_pi_camera(procs, pi_env) -> None:
    procs.start("capture0", "-m", "capture", "--camera", "0", env=pi_env)
    reader = RingReader(ring_name(pi_env["SHT__RING__PREFIX"], 0, "sd"))
    try:
        wait_until(lambda: reader.status().live(), 20)
        st = reader.status()
        assert st.source == "picamera2"
        assert "source picamera2 (auto: a Pi camera was found)" in procs.log("capture0")
        frame = reader.next_frame(2.0)
        y = frame.y.copy()
        assert frame.valid()
        ly, _, _ = pattern(854, 480)
        assert np.array_equal(y, ly[:, 106:746])
        first = frame.index
        time.sleep(1.0)
        assert 20 <= reader.status().last_index - first <= 40  # 30 fps from the camera
    finally:
        reader.close()
    assert procs.stop("capture0") == 0


def test_capture_process_exits_1_when_the_camera_goes_silent(procs, pi_env) -> None:
    env = dict(pi_env, FAKE_PICAMERA2_STALL_AFTER="10", SHT__CAMERA__CAPTURE_TIMEOUT="1.0")
    proc = procs.start("capture0", "-m", "capture", "--camera", "0", env=env)
    assert proc.wait(30) == 1
    log = procs.log("capture0")
    assert "no frame for 1 s" in log and "Traceback" not in log
    assert not list(Path("/dev/shm").glob(pi_env["SHT__RING__PREFIX"] + "*"))


def test_sigterm_stops_within_a_second_while_waiting_for_a_silent_camera(procs, pi_env) -> None:
    env = dict(pi_env, FAKE_PICAMERA2_STALL_AFTER="5", SHT__CAMERA__CAPTURE_TIMEOUT="20")
    proc = procs.start("capture0", "-m", "capture", "--camera", "0", env=env)
    reader = RingReader(ring_name(pi_env["SHT__RING__PREFIX"], 0, "hd"))
    try:
        wait_until(lambda: reader.status().last_index >= 4, 20)
        time.sleep(0.3)  # now inside a capture wait that would last 20 s
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        assert time.monotonic() - t0 < 1.0
    finally:
        reader.close()


def test_capture_process_fails_clearly_when_another_process_has_the_camera(procs, pi_env) -> None:
    holder = hold_camera(0, pi_env)
    try:
        proc = procs.start("capture0", "-m", "capture", "--camera", "0", env=pi_env)
        assert proc.wait(30) == 1
        log = procs.log("capture0")
        assert "Device or resource busy" in log and "Traceback" not in log
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def broken_picamera2(tmp_path: Path) -> Path:
    """A picamera2 that is installed but fails to import, as on x86 or with a numpy ABI clash."""
    pkg = tmp_path / "broken" / "picamera2"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ValueError('numpy.dtype size changed, may indicate binary "
                                     "incompatibility.\\nExpected 96 from C header, got 88 from PyObject')\n")
    return pkg.parent


def test_auto_with_a_broken_picamera2_exits_2_with_the_error_in_one_line(procs, sht_env, broken_picamera2) -> None:
    env = dict(sht_env, PYTHONPATH=str(broken_picamera2), SHT__CAMERA__SOURCE="auto")
    proc = procs.start("capture0", "-m", "capture", "--camera", "0", env=env)
    assert proc.wait(30) == 2
    log = procs.log("capture0")
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "picamera2 is installed but cannot be imported: ValueError: numpy.dtype size " \
        "changed, may indicate binary incompatibility. Expected 96" in errors[0], log
    assert "Traceback" not in log and "synthetic" not in log
    doc = status_board(env).read(capture_status_name(0))
    assert doc["state"] == "error" and "cannot be imported" in doc["reason"]


def test_one_camera_connected_the_other_waits_without_crashing(procs, pi_env, tmp_path: Path) -> None:
    count = tmp_path / "cameras"
    count.write_text("1")
    env = dict(pi_env, FAKE_PICAMERA2_CAMERAS_FILE=str(count), SHT__CAMERA__ABSENT_RETRY_SECONDS="1")
    board = status_board(env)
    procs.start("capture0", "-m", "capture", "--camera", "0", env=env)
    proc = procs.start("capture1", "-m", "capture", "--camera", "1", env=env)
    reader = RingReader(ring_name(env["SHT__RING__PREFIX"], 0, "hd"))
    try:
        wait_until(lambda: reader.status().live(), 20)
        doc = wait_until(lambda: (d := board.read(capture_status_name(1))) and d["state"] == "not connected" and d,
                         20)
        assert doc["reason"].startswith("camera 1 not connected (libcamera lists 1 camera;")
        assert board.read(capture_status_name(0))["state"] == "live"
        time.sleep(2.5)  # a few rare checks later: still up, said once, no rings of its own
        assert proc.poll() is None
        log = procs.log("capture1")
        assert log.count("not connected") == 1 and "Traceback" not in log
        assert not list(Path("/dev/shm").glob(env["SHT__RING__PREFIX"] + "cam1_*"))
        count.write_text("2")  # the camera is plugged in (and the Pi rebooted): a fresh process opens it
        assert proc.wait(20) == 1
        assert "camera 1: now listed; restarting to open it" in procs.log("capture1")
    finally:
        reader.close()
    assert procs.stop("capture0") == 0


def test_a_pinned_camera_waits_for_its_own_connector(procs, pi_env, tmp_path: Path) -> None:
    ports = tmp_path / "ports"
    ports.write_text("1")      # only CAM1 has a camera: libcamera calls it camera 0
    env = dict(pi_env, FAKE_PICAMERA2_PORTS_FILE=str(ports), SHT__CAMERA__ABSENT_RETRY_SECONDS="1",
               SHT__CAMERA__IDS='["i2c@88000", "i2c@80000"]')
    board = status_board(env)
    proc = procs.start("capture0", "-m", "capture", "--camera", "0", env=env)
    doc = wait_until(lambda: (d := board.read(capture_status_name(0))) and d["state"] == "not connected" and d, 20)
    assert doc["reason"].startswith("camera 0 is pinned to 'i2c@88000' (camera.ids) and no such camera is connected")
    time.sleep(2.5)            # CAM1's camera is listed all along: not a reason to restart
    assert proc.poll() is None and "now listed" not in procs.log("capture0")
    ports.write_text("0,1")
    assert proc.wait(20) == 1
    assert "camera 0: now listed; restarting to open it" in procs.log("capture0")


def test_sigterm_ends_the_not_connected_wait_at_once(procs, pi_env) -> None:
    env = dict(pi_env, FAKE_PICAMERA2_CAMERAS="1")
    proc = procs.start("capture1", "-m", "capture", "--camera", "1", env=env)
    wait_until(lambda: "not connected" in procs.log("capture1"), 20)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0 and time.monotonic() - t0 < 1.5


def test_with_the_rpicam_vid_engine_capture_idles_without_the_camera(procs, pi_env) -> None:
    env = dict(pi_env, SHT__RECORDER__ENGINE="rpicam-vid", FAKE_PICAMERA2_CAMERAS="0")
    proc = procs.start("capture0", "-m", "capture", "--camera", "0", env=env)
    board = status_board(env)
    doc = wait_until(lambda: board.read(capture_status_name(0)), 20)
    assert doc["state"] == "off" and doc["reason"].startswith("live view off: camera recorded by rpicam-vid")
    time.sleep(1.0)
    assert proc.poll() is None and not list(Path("/dev/shm").glob(env["SHT__RING__PREFIX"] + "*"))
    assert procs.stop("capture0") == 0
