"""A video file as a camera: it plays at the camera's rate, each tick showing the picture
whose time has come by the file's own timestamps, and starts again at the end."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from capture.sources.av_source import AvSource, Retimer
from common.video.i420 import frame_bytes, planes
from common.video.streams import STREAMS


def shown(source_fps: float, camera_fps: float, seconds: float) -> list[int]:
    """Which source picture each camera tick shows, pictures numbered from 0."""
    r = Retimer(camera_fps)
    out: list[int] = []
    count = round(seconds * source_fps)
    for n in range(count):
        out += r.feed(n / source_fps, n)
    return out + r.feed(count / source_fps, None)


def test_a_slower_clip_repeats_each_picture_until_the_next_one_is_due() -> None:
    assert shown(10, 30, 1) == [n // 3 for n in range(30)]


def test_a_faster_clip_skips_pictures_and_keeps_the_camera_rate() -> None:
    ticks = shown(50, 30, 2)
    assert len(ticks) == 60                                   # 30 a second, whatever the file's rate
    assert ticks == [n * 50 // 30 for n in range(60)]         # the newest picture due at each tick
    ticks = shown(25, 30, 2)
    assert len(ticks) == 60 and sorted(set(ticks)) == list(range(50))   # none skipped, some twice


def test_ticks_do_not_drift_over_an_hour() -> None:
    r = Retimer(30)
    total = 0
    for n in range(3600 * 25):
        total += len(r.feed(n / 25, n))
    assert total == 3600 * 30 - 1     # the last picture's own tick is still ahead


def _clip(path: Path, levels: list[int], fps: int) -> None:
    w, h = STREAMS["hd"]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast", "qp": "0"}
        for n, level in enumerate(levels):
            data = np.full(frame_bytes(w, h), 128, np.uint8)
            data[:w * h] = level
            frame = av.VideoFrame.from_ndarray(data.reshape(h * 3 // 2, w), format="yuv420p")
            frame.pts, frame.time_base = n, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_a_10_fps_file_plays_at_30_fps_and_loops(tmp_path: Path) -> None:
    path = tmp_path / "ten.mp4"
    levels = [40, 80, 120, 160]
    _clip(path, levels, 10)
    (hw, hh), (sw, sh) = STREAMS["hd"], STREAMS["sd"]
    hd = planes(np.zeros(frame_bytes(hw, hh), np.uint8), hw, hh)
    sd = planes(np.zeros(frame_bytes(sw, sh), np.uint8), sw, sh)
    source = AvSource("file", str(path), 0, 30, 2.0)
    source.start()
    try:
        seen, times = [], []
        for _ in range(18):             # 0.6 s: the 4 pictures three times each, then again
            frame = source.capture(2.0)
            assert frame is not None
            frame.fill(hd, sd)
            seen.append(round(float(hd[0].mean())))
            times.append(frame.mono_ns)
    finally:
        source.close()
    expected = [levels[(n // 3) % len(levels)] for n in range(18)]
    assert all(abs(a - b) <= 2 for a, b in zip(seen, expected)), seen
    assert abs((times[-1] - times[0]) / 1e9 - 17 / 30) < 0.1      # at the camera's pace
