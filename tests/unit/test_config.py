"""Configuration: defaults, file, environment; every bad value named in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import SCHEMA, ConfigError, load
from tests.support.procs import REPO


def _env(tmp_path: Path, toml: str = "", **extra: str) -> dict[str, str]:
    path = tmp_path / "sht.toml"
    path.write_text(toml)
    return {"SHT_CONFIG": str(path), **extra}


def test_defaults_file_then_environment(tmp_path: Path) -> None:
    cfg = load(_env(tmp_path))
    assert cfg.camera.fps == 30 and cfg.ring.slots == 8 and cfg.streamer.port == 8001
    assert all(getattr(cfg, s).as_dict().keys() == SCHEMA[s].keys() for s in SCHEMA)
    cfg = load(_env(tmp_path, "[camera]\nfps = 25\nnames = ['Gate', 'Yard']\n[recorder]\nsegment_seconds = 10\n",
                    SHT__RECORDER__SEGMENT_SECONDS="5", SHT__CAMERA__OVERLAY="false",
                    SHT__CAMERA__FILES='["a.mp4", "b.mp4"]', SHT__RING__STALE_SECONDS="1.5"))
    assert cfg.camera.fps == 25 and cfg.camera_name(1) == "Yard" and cfg.camera_name(5) == "CAM 5"
    assert cfg.recorder.segment_seconds == 5 and cfg.camera.overlay is False
    assert cfg.camera.files == ["a.mp4", "b.mp4"] and cfg.ring.stale_seconds == 1.5
    assert cfg.path("/abs").as_posix() == "/abs" and cfg.path("rel") == REPO / "rel"


@pytest.mark.parametrize("toml, env, words", [
    ("[cameras]\nfps = 30\n", {}, ["unknown section [cameras]", "camera, ring"]),
    ("[camera]\nframerate = 30\n", {}, ["unknown key camera.framerate", "allowed keys are source,", "capture_timeout"]),
    ("[camera]\nfps = 'thirty'\n", {}, ["camera.fps = 'thirty'", "expected integer"]),
    ("[camera]\noverlay = 1\n", {}, ["camera.overlay = 1", "expected true/false"]),
    ("[camera]\nfps = true\n", {}, ["camera.fps = True", "expected integer"]),
    ("[camera]\nfps = 500\n", {}, ["camera.fps = 500", "a number from 1 to 120"]),
    ("[camera]\nsource = 'usb'\n", {}, ["camera.source = 'usb'", "auto | synthetic | picamera2 | file | v4l2"]),
    ("[ring]\nprefix = 'a/b'\n", {}, ["ring.prefix = 'a/b'", "letters, digits"]),
    ("camera = 3\n", {}, ["[camera]", "expected a table"]),
    ("[camera\n", {}, ["not valid TOML"]),
    ("", {"SHT__CAMERA__FPS": "fast"}, ["camera.fps = 'fast' (environment)", "expected integer"]),
    ("", {"SHT__STREAMER__PORT": "70000"}, ["streamer.port = 70000", "from 1 to 65535"]),
    ("", {"SHT__CAMERA__OVERLAY": "maybe"}, ["camera.overlay = 'maybe'", "true/false"]),
    ("", {"SHT__CAMERAS__FPS": "30"}, ["unknown section [cameras]", "SHT__CAMERAS__FPS"]),
    ("", {"SHT__CAMERA__FRAMERATE": "30"}, ["unknown key camera.framerate"]),
    ("", {"SHT__CAMERA": "30"}, ["SHT__<SECTION>__<KEY>"]),
    ("", {"SHT__RECORDER__FREE_TARGET_GB": "0.5"}, ["recorder.free_target_gb = 0.5", "free_floor_gb"]),
])
def test_bad_values_name_key_value_and_what_is_allowed(tmp_path: Path, toml: str, env: dict[str, str],
                                                       words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load(_env(tmp_path, toml, **env))
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_missing_config_file_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load({"SHT_CONFIG": str(tmp_path / "nope.toml")})
