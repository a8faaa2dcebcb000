"""What a request may ask for: views, resolutions, cameras, and the JSON 400 otherwise."""
from __future__ import annotations

import pytest

from common.config import load
from streamer.params import ParamError, check_camera, check_res, check_view
from tests.support.procs import isolated_env


@pytest.fixture
def cfg(tmp_path):
    return load(isolated_env(tmp_path / "sht"))


def test_parameters_are_checked_by_name(cfg):
    assert check_view(cfg, "dual") == "dual" and check_res("720p").width == 1280 and check_camera(cfg, "1") == 1
    for call, field in ((lambda: check_view(cfg, "2"), "view"), (lambda: check_res("1080p"), "res"),
                        (lambda: check_camera(cfg, "-1"), "camera_id")):
        with pytest.raises(ParamError) as info:
            call()
        body = info.value.body()
        assert body["field"] == field and body["allowed"] and field in body["error"]
