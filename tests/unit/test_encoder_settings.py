"""The [recorder] encoder settings reach libx264 as configured (its version SEI lists the
options it runs with), and the bitrate cap holds on a scene busier than any camera's."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import av
import numpy as np

from common.config import load
from recorder.encode.encoder import Encoder
from recorder.encode.settings import SOFTWARE, VBV_SECONDS, EncoderSettings
from tests.support.encoding import PacketList

FPS = 30


def encode(settings: EncoderSettings, pictures: list[np.ndarray]) -> list[tuple[bytes, bool, int]]:
    enc = Encoder(settings, 0)
    out = PacketList()
    enc.add(out)
    for n, data in enumerate(pictures):
        enc.encode(av.VideoFrame.from_ndarray(data, format="yuv420p"), n * 1_000_000_000 // FPS)
    enc.close()
    return out.got


def x264_options(packets: list[tuple[bytes, bool, int]]) -> dict[str, str]:
    """The options libx264 wrote into its version SEI (first keyframe)."""
    text = packets[0][0].split(b"options: ", 1)[1].split(b"\x00", 1)[0].decode("ascii", "replace")
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def flat(w: int, h: int, count: int) -> list[np.ndarray]:
    return [np.full((h * 3 // 2, w), 100 + n % 50, np.uint8) for n in range(count)]


def test_the_configured_settings_are_what_libx264_runs_with(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    cfg = load({"SHT_CONFIG": str(empty)})   # the built-in defaults
    opts = x264_options(encode(EncoderSettings.of(cfg.recorder, SOFTWARE, 320, 180, FPS), flat(320, 180, 3)))
    rc = cfg.recorder
    assert opts["crf"] == f"{rc.crf:.1f}"
    assert opts["keyint"] == str(round(FPS * rc.keyframe_seconds)) == str(rc.gop(FPS))
    assert opts["vbv_maxrate"] == str(rc.max_bitrate_kbps)
    assert opts["vbv_bufsize"] == str(VBV_SECONDS * rc.max_bitrate_kbps)
    assert opts["bframes"] == "0" and opts["rc_lookahead"] == "0"       # zerolatency: nothing waits
    assert opts["threads"] == str(rc.threads)
    # Another preset, CRF and interval from the configuration change what libx264 does.
    env = {"SHT_CONFIG": str(empty), "SHT__RECORDER__PRESET": "ultrafast",
           "SHT__RECORDER__CRF": "31", "SHT__RECORDER__KEYFRAME_SECONDS": "0.5",
           "SHT__RECORDER__MAX_BITRATE_KBPS": "0"}
    other = x264_options(encode(EncoderSettings.of(load(env).recorder, SOFTWARE, 320, 180, FPS), flat(320, 180, 3)))
    assert (other["crf"], other["keyint"], other["cabac"]) == ("31.0", "15", "0")   # ultrafast: no CABAC
    assert "vbv_maxrate" not in other


def test_the_cap_holds_on_a_scene_of_pure_noise() -> None:
    rng = np.random.default_rng(21)
    w, h, seconds = 320, 180, 2
    noise = [rng.integers(0, 256, (h * 3 // 2, w), np.uint8) for _ in range(FPS * seconds)]
    base = EncoderSettings(SOFTWARE, w, h, FPS, 2 * FPS, crf=27, max_kbps=0)
    cap_kbps = 500

    def bits(settings: EncoderSettings) -> int:
        return 8 * sum(len(data) for data, _, _ in encode(settings, noise))

    # VBV: over any stretch, at most the cap's rate for its length plus the buffer.
    bound = cap_kbps * 1000 * seconds + VBV_SECONDS * cap_kbps * 1000
    assert bits(replace(base, max_kbps=cap_kbps)) <= bound
    assert bits(base) > 3 * bound      # uncapped, the same scene takes far more
    assert re.search(rb"vbv_maxrate=500 ", encode(replace(base, max_kbps=cap_kbps), noise[:1])[0][0])
