"""The Pi camera source against a fake Picamera2 that behaves like the real one."""
from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from capture.source import CameraFailed
from common.ring import RingReader
from common.ring_layout import ring_name
from tests.fakes.picamera2 import pattern
from tests.procs import REPO, wait_until

FAKES = REPO / "tests" / "fakes"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The fake ``picamera2`` importable in this process, with its own camera locks."""
    monkeypatch.syspath_prepend(str(FAKES))
    monkeypatch.setenv("FAKE_PICAMERA2_LOCK_DIR", str(tmp_path / "locks"))
    for name in ("FAKE_PICAMERA2_CAMERAS", "FAKE_PICAMERA2_STALL_AFTER", "FAKE_PICAMERA2_STRIDE_ALIGN"):
        monkeypatch.delenv(name, raising=False)
    sys.modules.pop("picamera2", None)
    import picamera2
    assert Path(picamera2.__file__).parent.parent == FAKES
    yield picamera2
    sys.modules.pop("picamera2", None)


def _source(camera: int = 0, timeout: float = 2.0):
    from capture.picam import PicameraSource
    return PicameraSource(camera, 30, timeout)


def _planes(w: int, h: int):
    return (np.zeros((h, w), np.uint8), np.zeros((h // 2, w // 2), np.uint8), np.zeros((h // 2, w // 2), np.uint8))


# -- the fake keeps the real library's rules --------------------------------------------------
def test_fake_refuses_what_picamera2_refuses(fake) -> None:
    cam = fake.Picamera2(camera_num=0)
    try:
        with pytest.raises(ValueError, match="Bad key"):
            cam.create_video_configuration(main={"format": "YUV420", "size": (1280, 720), "fps": 30})
        config = cam.create_video_configuration(main={"format": "YUV420", "size": (1281, 720)})
        with pytest.raises(RuntimeError, match="even"):
            cam.configure(config)
        config = cam.create_video_configuration(main={"format": "YUV420", "size": [1280, 720]})
        with pytest.raises(RuntimeError, match="should be \\(width, height\\)"):
            cam.configure(config)
        config = cam.create_video_configuration(main={"format": "YUV420", "size": (640, 480)},
                                                lores={"format": "YUV420", "size": (854, 480)})
        with pytest.raises(RuntimeError, match="may not exceed"):
            cam.configure(config)
        config = cam.create_video_configuration(main={"format": "YUV420", "size": (1280, 720)},
                                                controls={"Framerate": 30})
        with pytest.raises(RuntimeError, match="not advertised"):
            cam.configure(config)
        config = cam.create_video_configuration(main={"format": "YUV420", "size": (1280, 720)},
                                                lores={"format": "YUV420", "size": (854, 480)},
                                                controls={"FrameRate": 30})
        cam.configure(config)
        assert cam.camera_config["controls"]["FrameDurationLimits"] == (33333, 33333)
        assert config["lores"]["stride"] == 896 and config["lores"]["framesize"] == 896 * 720
        cam.start()
        with pytest.raises(RuntimeError, match="stopped before configuring"):
            cam.configure(config)
        cam.capture_request(wait=1.0).release()
    finally:
        cam.close()
        cam.close()  # twice is harmless


def test_fake_arrays_timeouts_starvation_and_busy(fake) -> None:
    cam = fake.Picamera2(0)
    try:
        config = cam.create_video_configuration(main={"format": "YUV420", "size": (1280, 720)},
                                                lores={"format": "YUV420", "size": (854, 480)}, buffer_count=3)
        cam.configure(config)
        cam.start()
        assert cam.capture_array("lores", wait=1.0).shape == (720, 896)  # stride padding kept
        held = [cam.capture_request(wait=1.0) for _ in range(3)]
        with pytest.raises(concurrent.futures.TimeoutError):
            cam.capture_request(wait=0.1)  # every buffer held: the camera starves
        held[0].release()
        with pytest.raises(RuntimeError, match="negative"):
            held[0].release()
        cam.capture_request(wait=1.0).release()
        for request in held[1:]:
            request.release()
        with pytest.raises(RuntimeError, match="did not complete") as busy:
            fake.Picamera2(0)
        assert "Device or resource busy" in str(busy.value.__cause__)
        assert [c["Num"] for c in fake.Picamera2.global_camera_info()] == [0, 1]
    finally:
        cam.close()
    fake.Picamera2(0).close()  # the lock went with close()


# -- the source -------------------------------------------------------------------------------
def test_source_configures_once_and_copies_the_picture_without_padding(fake) -> None:
    from capture.picam import PicameraSource
    src = _source()
    src.start()
    try:
        cfg = src._cam.camera_config
        assert cfg["main"]["format"] == "YUV420" and cfg["main"]["size"] == (1280, 720)
        assert cfg["lores"]["format"] == "YUV420" and cfg["lores"]["size"] == (854, 480)
        assert cfg["controls"]["FrameDurationLimits"] == (33333, 33333)
        hd, sd = _planes(1280, 720), _planes(640, 480)
        for _ in range(10):
            frame = src.capture(2.0)
            try:
                frame.fill(hd, sd)
            finally:
                frame.release()
        assert fake.Picamera2.opened == 1 and src._cam.released == src._cam.delivered == 10
        ey, eu, ev = fake.pattern(1280, 720)
        assert np.array_equal(hd[0][1:], ey[1:])  # row 0 carries the fake's frame number
        assert np.array_equal(hd[1], eu) and np.array_equal(hd[2], ev)
        ly, lu, lv = fake.pattern(854, 480)
        x0 = (854 - 640) // 4 * 2  # centre crop, even offset
        assert np.array_equal(sd[0], ly[:, x0:x0 + 640])
        assert np.array_equal(sd[1], lu[:, x0 // 2:x0 // 2 + 320])
        assert np.array_equal(sd[2], lv[:, x0 // 2:x0 // 2 + 320])
        assert not (sd[0] == fake.PAD_BYTE).all(axis=0).any()
        # The capture time is the sensor's; wall time is derived from it.
        frame = src.capture(2.0)
        meta_ts = frame.request.get_metadata()["SensorTimestamp"]
        frame.release()
        assert frame.mono_ns == meta_ts
        assert abs((time.time_ns() - frame.wall_ns) - (time.monotonic_ns() - frame.mono_ns)) < 50_000_000
        assert isinstance(src, PicameraSource) and src.kind == "picamera2"
    finally:
        cam = src._cam
        src.close()
        src.close()
    assert cam.camera is None and not cam.started  # stopped and closed
    fake.Picamera2(0).close()  # and the camera is free for the next process


def test_request_released_even_when_fill_raises(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _source()
    src.start()
    try:
        bad_hd = _planes(1280, 700)  # wrong shape: the copy raises
        for _ in range(12):  # twice the buffer count: a leak would starve the camera
            frame = src.capture(2.0)
            with pytest.raises(ValueError):
                try:
                    frame.fill(bad_hd, _planes(640, 480))
                finally:
                    frame.release()
        assert src._cam.released == src._cam.delivered == 12
        frame = src.capture(2.0)
        frame.release()
        frame.release()  # a second release of the same frame is a no-op
        assert src._cam.released == 13
        # Metadata without the timestamp: the request still goes back, the camera is reported failed.
        monkeypatch.setattr(fake.CompletedRequest, "get_metadata", lambda self: {"ExposureTime": 1})
        with pytest.raises(CameraFailed, match="sensor timestamp"):
            src.capture(2.0)
        assert src._cam.released == src._cam.delivered == 14
    finally:
        src.close()


def test_missed_frames_counted_from_sensor_timestamps(fake) -> None:
    src = _source()
    src.start()
    try:
        src.capture(2.0).release()
        time.sleep(0.3)  # about nine frame periods
        src.capture(2.0).release()
        assert 4 <= src.missed <= 12
    finally:
        src.close()


def test_a_short_stall_leaves_no_buffer_held(fake) -> None:
    """Frames stop for longer than a wait slice, then come back before capture_timeout."""
    src = _source(timeout=3.0)
    src.start()
    try:
        cam = src._cam
        cam.stall_after = cam.delivered          # the sensor goes quiet now
        import threading
        threading.Timer(1.3, lambda: setattr(cam, "stall_after", -1)).start()
        for _ in range(3):
            frame = src.capture(3.0)
            frame.release()
        assert cam.leaked == 0 and cam.abandoned == 0
        assert len(cam._held) == 0, "a request is held by nobody: the camera would starve"
    finally:
        src.close()


def test_silent_camera_fails_after_capture_timeout_in_slices(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_STALL_AFTER", "0")
    src = _source(timeout=1.2)
    src.start()
    try:
        t0 = time.monotonic()
        with pytest.raises(CameraFailed, match="no frame for 1.2 s"):
            src.capture(1.2)
        assert 1.15 <= time.monotonic() - t0 < 3.0
        # A stop request ends a wait within one slice.
        import threading
        threading.Timer(0.2, src.interrupt).start()
        t0 = time.monotonic()
        assert src.capture(10.0) is None
        assert time.monotonic() - t0 < 1.0
    finally:
        src.close()


def test_no_camera_and_busy_camera_raise_camera_failed(fake, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "0")
    with pytest.raises(CameraFailed, match="not found"):
        _source().start()
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "2")
    holder = _hold_camera(0)
    try:
        src = _source()
        with pytest.raises(CameraFailed, match="Device or resource busy"):
            src.start()
        src.close()
    finally:
        holder.kill()
        holder.wait()
    src = _source()
    src.start()  # the lock died with the process that held it
    src.close()


def _hold_camera(camera: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Another process that opens the camera and keeps it."""
    env = dict(os.environ if env is None else env, PYTHONPATH=str(FAKES))
    code = (f"from picamera2 import Picamera2; c = Picamera2({camera}); print('ready', flush=True); "
            "import time; time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


# -- the capture process with the fake camera ---------------------------------------------------
@pytest.fixture
def pi_env(sht_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    env = dict(sht_env, PYTHONPATH=str(FAKES), SHT__CAMERA__SOURCE="auto", SHT__CAMERA__OVERLAY="false",
               FAKE_PICAMERA2_LOCK_DIR=str(tmp_path / "locks"))
    env.pop("FAKE_PICAMERA2_STALL_AFTER", None)
    return env


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
    holder = _hold_camera(0, pi_env)
    try:
        proc = procs.start("capture0", "-m", "capture", "--camera", "0", env=pi_env)
        assert proc.wait(30) == 1
        log = procs.log("capture0")
        assert "Device or resource busy" in log and "Traceback" not in log
    finally:
        holder.kill()
        holder.wait()


def test_auto_follows_what_picamera2_lists(fake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from capture.registry import resolve_kind
    from common.config import load
    (tmp_path / "empty.toml").write_text("")
    cfg = load({"SHT_CONFIG": str(tmp_path / "empty.toml")})
    assert resolve_kind(cfg, 0) == ("picamera2", "auto: a Pi camera was found")
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "0")
    kind, why = resolve_kind(cfg, 0)
    assert kind == "synthetic" and "no Pi camera found" in why
    cfg = load({"SHT_CONFIG": str(tmp_path / "empty.toml"), "SHT__CAMERA__SOURCES": '["synthetic", "file"]'})
    assert resolve_kind(cfg, 1) == ("file", "camera.sources = file")
