"""Pi cameras against the fake Picamera2's published sensors: the whole field of view at
1280x720 30 fps, the lens focused as configured, and cameras pinned to their connector."""
from __future__ import annotations

import pytest

from capture.sources.base import CameraAbsent
from common.camera.sensor_mode import choose, field, sensor_area
from common.config import ConfigError, load, load_or_exit
from tests.fakes.picamera2.sensors import SENSORS, picamera2_choice

PICTURE = (1280, 720)


def _source(camera: int = 0, **kw):
    from capture.sources.picam import PicameraSource
    return PicameraSource(camera, 30, 2.0, **kw)


def _widest(modes: list[dict]) -> float:
    """The most of the sensor any mode can show in a 16:9 picture."""
    sensor = sensor_area(modes)
    return max(field(m["crop_limits"], sensor, PICTURE) for m in modes)


@pytest.mark.parametrize("model", sorted(SENSORS))
def test_each_sensor_gets_its_whole_field_of_view_at_720p30(fake, monkeypatch: pytest.MonkeyPatch,
                                                            model: str) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_SENSORS", model)
    src = _source()
    src.start()
    try:
        cam = src._cam
        mode = cam.mode                     # what the fake configured, as libcamera would
        sensor = sensor_area(cam.sensor_modes)
        assert tuple(mode["crop_limits"][2:]) == sensor, f"{model}: {mode['size']} reads only {mode['crop_limits']}"
        assert mode["fps"] >= 30 and cam.frame_duration_us == 33333
        assert src.mode is not None and src.mode.field == pytest.approx(_widest(cam.sensor_modes))
        assert src.mode.size == tuple(mode["size"]) and "of the sensor" in src.details()
        assert tuple(cam.camera_config["main"]["size"]) == PICTURE   # the ISP scales the mode down
    finally:
        src.close()


@pytest.mark.parametrize(("model", "cropped"), [("imx219", (1920, 1080)), ("ov5647", (1920, 1080)),
                                                ("imx477", (2028, 1080)), ("imx708", (1536, 864))])
def test_left_to_picamera2_the_main_stream_size_picks_a_cropped_mode(model: str, cropped: tuple[int, int]) -> None:
    sensor = SENSORS[model]
    modes = sensor.sensor_modes()
    mode = picamera2_choice(modes, PICTURE, sensor.native[1])
    assert mode["size"] == cropped
    assert field(mode["crop_limits"], sensor_area(modes), PICTURE) < _widest(modes) - 0.05


def test_the_frame_rate_comes_before_the_field_of_view() -> None:
    modes = SENSORS["imx477"].sensor_modes()
    at50 = choose(modes, PICTURE, 50)     # only 2028x1080 (50.03) and 1332x990 (120) keep 50 fps
    assert at50 is not None and at50.size == (2028, 1080) and at50.fps >= 50
    at200 = choose(modes, PICTURE, 200)   # none does: the fastest
    assert at200 is not None and at200.size == (1332, 990)
    assert choose([{"format": "YUYV"}], PICTURE, 30) is None    # a camera without raw modes


def test_the_deeper_bit_depth_wins_a_tie() -> None:
    chosen = choose(SENSORS["imx219"].sensor_modes(), PICTURE, 30)   # SRGGB10 and SRGGB8 list the same modes
    assert chosen is not None and chosen.bit_depth == 10 and chosen.size == (1640, 1232)


# -- focus ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("setting", "expected"), [
    ({}, {"AfMode": 2}),
    ({"autofocus": "manual", "lens_position": 0.5}, {"AfMode": 0, "LensPosition": 0.5}),
    ({"autofocus": "off"}, {}),
])
def test_a_camera_module_3_focuses_as_configured(fake, setting: dict, expected: dict) -> None:
    src = _source(**setting)
    src.start()
    try:
        lens = {k: v for k, v in src._cam.camera_config["controls"].items() if k in ("AfMode", "LensPosition")}
        assert lens == expected
        assert ("continuous" in src.focus) == (expected.get("AfMode") == 2)
    finally:
        src.close()


def test_a_camera_without_autofocus_gets_no_lens_controls(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_SENSORS", "imx219")
    src = _source(autofocus="manual", lens_position=2.0)
    src.start()      # the fake refuses controls the camera does not advertise
    try:
        assert "AfMode" not in src._cam.camera_config["controls"] and src.focus.startswith("fixed focus")
    finally:
        src.close()


@pytest.mark.parametrize(("key", "value"), [("AUTOFOCUS", "auto"), ("LENS_POSITION", "-1"), ("IDS", "7")])
def test_bad_focus_and_pin_settings_name_the_key(key: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    env = {f"SHT__CAMERA__{key}": value}
    with pytest.raises(ConfigError, match=rf"camera\.{key.lower()}"):
        load(env)
    with pytest.raises(SystemExit) as stopped:
        load_or_exit(env)
    assert stopped.value.code == 2 and f"camera.{key.lower()}" in capsys.readouterr().err


# -- which camera is camera N -----------------------------------------------------------------
def test_one_camera_on_cam1_is_camera_0(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_PORTS", "1")
    from common.camera.ports import port
    listed = fake.Picamera2.global_camera_info()
    assert len(listed) == 1 and port(listed[0]["Id"]) == "CAM1"
    monkeypatch.setenv("FAKE_PICAMERA2_PORTS", "0,1")
    assert [port(c["Id"]) for c in fake.Picamera2.global_camera_info()] == ["CAM0", "CAM1"]


def test_a_pinned_camera_opens_its_connector_whatever_its_number(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_PORTS", "1")
    monkeypatch.setenv("FAKE_PICAMERA2_SENSORS", "imx477")
    src = _source(1, pin="i2c@80000")      # camera 1 pinned to CAM1, which libcamera calls camera 0
    src.start()
    try:
        assert "/i2c@80000/imx477@1a" in src.camera_id and src._cam.model == "imx477"
    finally:
        src.close()


def test_a_missing_pinned_camera_is_absent_not_renumbered(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PICAMERA2_PORTS", "1")
    src = _source(0, pin="i2c@88000")      # CAM0 pinned; only CAM1 has a camera
    with pytest.raises(CameraAbsent, match=r"camera 0 is pinned to 'i2c@88000' \(camera.ids\).*i2c@80000"):
        src.start()
    assert src._cam is None
    monkeypatch.setenv("FAKE_PICAMERA2_PORTS", "0,1")
    with pytest.raises(CameraAbsent, match="fits 2 cameras"):
        _source(0, pin="imx708@1a").start()
