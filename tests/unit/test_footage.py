"""Real clips as the benchmarks read them: each sd frame is the picture a camera running at
the asked rate would have shown then, cropped and scaled as the file source does."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.support import footage
from tests.support.clip_trial import back_and_forth


def _numbered_clip(path: Path, fps: int, frames: int) -> None:
    """A 1280x720 clip whose frame n is grey level 10 + 8 n, with a bright bar at the far left
    (outside the sd crop) and a dark square in the middle (inside it)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.bit_rate = 20_000_000
        for n in range(frames):
            rgb = np.full((720, 1280, 3), 10 + 8 * n, np.uint8)
            rgb[:, :100] = 250
            rgb[310:410, 590:690] = 0
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_sd_pictures_sample_the_clip_at_the_camera_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(footage, "FOOTAGE_DIR", tmp_path)
    _numbered_clip(tmp_path / "n.avi", 25, 25)
    clip = footage.Clip("n.avi", "", "", "")
    pics = list(footage.sd_pictures(clip, 10.0))
    assert [round(p.t, 3) for p in pics] == [k / 10 for k in range(10)]
    for k, p in enumerate(pics):
        assert p.y.shape == (480, 640) and p.u.shape == (240, 320)
        shown = k * 25 // 10                     # the newest frame presented by k / 10 s
        assert abs(float(np.median(p.y[:, :100])) - (16 + (10 + 8 * shown) * 219 / 255)) < 4, (k, shown)
        assert p.y[:, :8].max() < 200            # the bar at the far left is outside the centre crop
        assert p.y[240, 320] < 40                # the square in the middle is inside it
    # A stretch of the clip, from its start time on.
    assert [round(p.t, 3) for p in footage.sd_pictures(clip, 10.0, 0.5, 0.8)] == [0.5, 0.6, 0.7]


def test_missing_names_what_is_absent_and_what_is_not_the_expected_file(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(footage, "FOOTAGE_DIR", tmp_path)
    name = next(iter(footage.CLIPS))
    assert "is not in" in footage.missing([name]) and footage.CLIPS[name].source in footage.missing([name])
    (tmp_path / name).write_bytes(b"something else")
    assert "is not the expected file" in footage.missing([name])


def test_back_and_forth_never_jumps_and_lays_the_light_over(tmp_path: Path) -> None:
    y = [np.full((480, 640), 100 + n, np.uint8) for n in range(4)]
    uv = np.full((240, 320), 128, np.uint8)
    frames = [footage.SdPicture(n / 10, y[n], uv, uv) for n in range(4)]
    order = [int(p.y[0, 0]) - 100 for p in back_and_forth(frames, 1.0, 10.0)]
    assert order == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    levels = [float(p.y[0, 0]) for p in back_and_forth(frames[:1], 150.0, 1.0, light=True)]
    assert min(levels) == pytest.approx(70, abs=1) and levels[0] == 100   # 30% darker at the bottom of the dip
