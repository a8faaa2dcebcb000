"""Recordings declare the rings' colours (full-range BT.601) and play back in true colour."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np

from common.video import colour
from recorder.encode import settings as encoder
from recorder.encode.settings import EncoderSettings
from tests.support.encoding import OneFile

W, H, FPS = 1280, 720, 30
RGB = (200, 60, 40)


def _full_range_bt601(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = (c / 255.0 for c in rgb)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return round(255 * y), round(128 + 255 * (b - y) / 1.772), round(128 + 255 * (r - y) / 1.402)


def _ffmpeg(tool: str) -> str:
    exe = shutil.which(tool)
    assert exe, f"{tool} is needed (apt install ffmpeg), as in the README's test set-up"
    return exe


def test_recordings_carry_colour_tags_and_decode_to_the_true_colour(tmp_path: Path) -> None:
    y, u, v = _full_range_bt601(RGB)
    data = np.empty((H * 3 // 2, W), np.uint8)
    data[:H], data[H:H + H // 4], data[H + H // 4:] = y, u, v
    path = tmp_path / "s.mp4"
    w = OneFile(path, EncoderSettings(encoder.SOFTWARE, W, H, FPS, FPS), 0, "camera=0")
    for n in range(10):
        w.add(av.VideoFrame.from_ndarray(data, format="yuv420p"), int(n * 1e9 / FPS))
    w.close()
    out = subprocess.run([_ffmpeg("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=color_range,color_space,color_primaries,color_transfer", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    tags = json.loads(out)["streams"][0]
    assert tags == colour.PROBE_NAMES
    # A player honours the tags: ffmpeg's own conversion to RGB gives the colour back.
    raw = subprocess.run([_ffmpeg("ffmpeg"), "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, timeout=30, check=True).stdout
    mean = np.frombuffer(raw, np.uint8).reshape(-1, 3).mean(axis=0)
    assert np.all(np.abs(mean - np.array(RGB)) <= 3), mean
