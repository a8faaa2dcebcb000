"""The name and time burned into the frames: what the built-in font can draw."""
from __future__ import annotations

import numpy as np

from common.video.overlay import FrameStamp, drawable, render_mask


def test_a_name_in_letters_the_font_has_is_burned_in_as_it_is() -> None:
    assert drawable("Gate 2", 0) == "Gate 2"
    assert drawable("cam-1/back", 1) == "cam-1/back"


def test_a_korean_name_is_burned_in_as_the_camera_number_not_as_underscores() -> None:
    """The font is Latin only: "정문" drew two underscore glyphs, which say nothing in a clip."""
    assert drawable("정문", 1) == "CAM 1"
    assert drawable("정문 Gate", 0) == "CAM 0"
    assert not np.array_equal(render_mask(drawable("정문", 1), 1), render_mask("__", 1))


def test_the_stamp_draws_the_name_it_was_given_on_the_left() -> None:
    y = np.zeros((480, 640), np.uint8)
    u = np.zeros((240, 320), np.uint8)
    v = np.zeros((240, 320), np.uint8)
    stamp = FrameStamp(drawable("정문", 1), 640, 480)
    stamp.draw(y, u, v, "2026-12-04 13:47:05")
    label = stamp.name_label
    m = stamp.margin
    assert np.array_equal(y[m:m + label.height, m:m + label.width], label.patch)
    assert label.text == "CAM 1"
