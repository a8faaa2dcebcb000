"""The Pi camera source against a fake Picamera2 that behaves like the real one."""

from __future__ import annotations

import concurrent.futures
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from capture.sources.base import CameraAbsent, CameraFailed, CameraStackBroken
from tests.support.fake_camera import hold_camera


def _source(camera: int = 0, timeout: float = 2.0):
    from capture.sources.picam import PicameraSource
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
    from capture.sources.picam import PicameraSource
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_silent_camera_fails_after_capture_timeout_in_slices(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_STALL_AFTER", "0")
    src = _source(timeout=1.2)
    src.start()
    try:
        t0 = time.monotonic()
        with pytest.raises(CameraFailed, match=r"no frame for 1\.2 s"):
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


@pytest.mark.parametrize("version, error", [("0.3.36", IndexError), ("0.3.38", RuntimeError)])
def test_fake_fails_on_a_missing_camera_like_that_release(fake, monkeypatch: pytest.MonkeyPatch,
                                                          version: str, error: type) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_VERSION", version)
    for listed in ("1", "0"):
        monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", listed)
        with pytest.raises(Exception) as raised:
            fake.Picamera2(camera_num=1)
        assert type(raised.value) is error  # not a subclass: exactly what that release raises


@pytest.mark.parametrize("version", ["0.3.36", "0.3.38"])
def test_a_missing_camera_is_absent_not_failed(fake, monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_VERSION", version)
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "1")
    with pytest.raises(CameraAbsent, match="camera 1 not connected \\(libcamera lists 1 camera;"):
        _source(1).start()
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "0")
    with pytest.raises(CameraAbsent, match="camera 0 not connected"):
        _source(0).start()
    # Listed a moment ago, gone when opened: whatever the release raises, the camera is absent.
    real_info = fake.Picamera2.global_camera_info
    calls = []

    def shrinking() -> list:
        calls.append(1)
        monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "2" if len(calls) == 1 else "1")
        return real_info()
    monkeypatch.setattr(fake.Picamera2, "global_camera_info", staticmethod(shrinking))
    with pytest.raises(CameraAbsent, match="camera 1 not connected"):
        _source(1).start()
    assert len(calls) >= 2


def test_busy_camera_raises_camera_failed(fake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "2")
    holder = hold_camera(0)
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


def _cfg(tmp_path: Path, **env: str):
    from common.config import load
    (tmp_path / "empty.toml").write_text("")
    return load({"SHT_CONFIG": str(tmp_path / "empty.toml"), **env})


def _sysfs(root: Path, devices: dict[str, tuple[str, str]]) -> Path:
    """A /sys/class/video4linux look-alike: node -> (name, driver)."""
    for node, (name, driver) in devices.items():
        d = root / node
        (d / "device").mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        (d / "index").write_text("0\n")
        (root / "drivers" / driver).mkdir(parents=True, exist_ok=True)
        (d / "device" / "driver").symlink_to(root / "drivers" / driver)
    return root


def test_auto_uses_picamera2_whenever_it_imports(fake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from capture.sources.registry import resolve_kind
    cfg = _cfg(tmp_path)
    assert resolve_kind(cfg, 0) == ("picamera2", "auto: a Pi camera was found")
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "0")  # installed, nothing listed: a state, not synthetic
    assert resolve_kind(cfg, 0) == ("picamera2", "auto: picamera2 is installed (no camera listed yet)")
    cfg = _cfg(tmp_path, SHT__CAMERA__SOURCES='["synthetic", "file"]')
    assert resolve_kind(cfg, 1) == ("file", "camera.sources = file")


def test_auto_falls_back_to_synthetic_only_without_picamera2_and_camera(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    import capture.sources.devices
    from capture.sources.registry import resolve_kind
    sys.modules.pop("picamera2", None)
    assert __import__("importlib.util").util.find_spec("picamera2") is None, "picamera2 must be absent here"
    pc = _sysfs(tmp_path / "pc", {"video0": ("UVC Camera", "uvcvideo")})
    monkeypatch.setattr(capture.sources.devices, "SYSFS_V4L", pc)
    kind, why = resolve_kind(_cfg(tmp_path), 0)
    assert kind == "synthetic" and "no Pi camera found (picamera2 not installed, no camera device)" in why
    pi = _sysfs(tmp_path / "pi5", {"video0": ("rp1-cfe-csi2_ch0", "rp1-cfe"), "video20": ("pispbe-input", "pispbe")})
    monkeypatch.setattr(capture.sources.devices, "SYSFS_V4L", pi)
    with pytest.raises(CameraStackBroken, match="a Pi camera is attached \\(/dev/video0 \\(rp1-cfe\\)\\) but "
                                                "picamera2 is not installed"):
        resolve_kind(_cfg(tmp_path), 0)
    assert capture.sources.devices.usb_webcams(tmp_path / "pc") == ["/dev/video0"]
    assert capture.sources.devices.usb_webcams(pi) == []


# -- colours ----------------------------------------------------------------------------------
def _jpeg_rgb(hd, sd) -> list[np.ndarray]:
    """Mean RGB of both streams after a JPEG round trip (what a browser shows)."""
    import simplejpeg
    out = []
    for y, u, v in (hd, sd):
        jpeg = simplejpeg.encode_jpeg_yuv_planes(y, u, v, quality=95)
        out.append(simplejpeg.decode_jpeg(jpeg, colorspace="RGB").reshape(-1, 3).mean(axis=0))
    return out


@pytest.mark.parametrize("applied", ["Sycc", "Smpte170m"])
@pytest.mark.parametrize("rgb", [(200, 60, 40), (30, 140, 220), (235, 235, 235), (12, 12, 12)])
def test_live_view_shows_the_true_colour(fake, monkeypatch: pytest.MonkeyPatch, applied: str,
                                         rgb: tuple[int, int, int]) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_COLOUR_SPACE", applied)   # what the pipeline gives, asked or not
    monkeypatch.setenv("FAKE_PICAMERA2_RGB", ",".join(map(str, rgb)))
    src = _source()
    src.start()
    try:
        import libcamera
        assert src._cam.requested_colour_space == libcamera.ColorSpace.Sycc()
        assert src.colour_space.startswith(applied) and src.expand_range == (applied != "Sycc")
        hd, sd = _planes(1280, 720), _planes(640, 480)
        frame = src.capture(2.0)
        try:
            frame.fill(hd, sd)
        finally:
            frame.release()
        hd[0][0] = hd[0][1]  # row 0 carries the fake's frame number
        for mean in _jpeg_rgb(hd, sd):
            assert np.all(np.abs(mean - np.array(rgb)) <= 3), (applied, rgb, mean)
    finally:
        src.close()


def test_without_a_colour_space_the_picture_would_be_washed_out(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why Sycc is asked for: Picamera2's default for 720p is limited-range Rec.709."""
    monkeypatch.setenv("FAKE_PICAMERA2_RGB", "12,12,12")
    cam = fake.Picamera2(0)
    try:
        cam.configure(cam.create_video_configuration(main={"format": "YUV420", "size": (1280, 720)}))
        import libcamera
        assert cam.camera_config["colour_space"] == libcamera.ColorSpace.Rec709()
        cam.start()
        y = cam.capture_array("main", wait=1.0)[1:720, :1280]
        assert y.min() >= 16 + 9  # near-black drawn as dark grey by a full-range JPEG decoder
    finally:
        cam.close()


def test_mapped_arrays_are_read_only(fake) -> None:
    src = _source()
    src.start()
    try:
        frame = src.capture(2.0)
        with fake.MappedArray(frame.request, "main", write=False) as m:
            assert not m.array.flags.writeable
        frame.fill(_planes(1280, 720), _planes(640, 480))  # reading is all the source does
        frame.release()
    finally:
        src.close()


def test_missed_frames_follow_the_sensors_frame_duration(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    """In low light the sensor slows to 15 fps: no frame is missed although 30 were asked for."""
    monkeypatch.setenv("FAKE_PICAMERA2_FRAME_US", "66666")
    src = _source()
    src.start()
    try:
        for _ in range(6):
            src.capture(2.0).release()
        assert src.missed == 0
    finally:
        src.close()
