"""The view encoder without processes: composing a view from the rings, encoding and framing it."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from common.config import load
from common.ipc.frame_reader import RingReader
from common.ipc.frame_writer import RingWriter
from common.ipc.names import ring_name
from streamer.live.mjpeg.compose import Composer
from streamer.live.mjpeg.encoder import ViewEncoder
from streamer.params import RESOLUTIONS
from tests.support.multipart import Dechunk, parse_parts
from tests.support.procs import isolated_env


@pytest.fixture
def cfg(tmp_path):
    env = isolated_env(tmp_path / "sht", camera__overlay=True)
    return load(env)


def _publish(writer: RingWriter, luma: int, noise: bool = True) -> None:
    h, w = writer.geo.height, writer.geo.width
    rng = np.random.default_rng(luma)
    y = np.full((h, w), luma, np.uint8)
    if noise:
        y = (y + rng.integers(0, 60, (h, w), dtype=np.uint8)).astype(np.uint8)
    u = np.full((h // 2, w // 2), 100, np.uint8)
    v = np.full((h // 2, w // 2), 150, np.uint8)
    writer.publish(y, u, v, time.monotonic_ns(), time.time_ns())


def _dual_480p() -> Composer:
    """The dual view's composer at 480p, without the time label."""
    return Composer([0, 1], RESOLUTIONS["480p"], ["CAM 0", "CAM 1"], label=False)


def test_dual_picture_puts_cameras_side_by_side_and_no_signal_for_a_dead_one(cfg, ring_writer):
    w0 = ring_writer.stream(cfg.ring.prefix, 0, slots=3)
    _publish(w0, 120, noise=False)
    reader = RingReader(ring_name(cfg.ring.prefix, 0, "sd"))
    frame = reader.latest()
    comp = _dual_480p()
    assert comp.put(0, frame)
    comp.put_no_signal(1)
    y, u, v = comp.planes
    assert y.shape == (480, 1280) and u.shape == (240, 640) and v.shape == (240, 640)
    assert (y[:, :640] == 120).all() and (u[:, :320] == 100).all() and (v[:, :320] == 150).all()
    right = y[:, 640:]
    assert np.mean(right == 40) > 0.9 and (right == 235).any()    # grey with white text
    reader.close()


def test_a_frame_overwritten_while_copied_is_dropped(cfg, ring_writer):
    w0 = ring_writer.stream(cfg.ring.prefix, 0, slots=3)
    _publish(w0, 50)
    reader = RingReader(ring_name(cfg.ring.prefix, 0, "sd"))
    frame = reader.latest()
    for luma in (60, 70, 80):  # the writer laps the slot
        _publish(w0, luma)
    comp = _dual_480p()
    assert comp.put(0, frame) is False
    reader.close()


def test_a_camera_slower_than_the_view_is_copied_once_per_frame(cfg, ring_writer):
    w1 = ring_writer.stream(cfg.ring.prefix, 1, slots=3)
    _publish(w1, 90, noise=False)
    reader = RingReader(ring_name(cfg.ring.prefix, 1, "sd"))
    comp = _dual_480p()
    assert comp.put(1, reader.latest())
    right = comp.planes[0][:, 640:]
    right[:8] = 7          # marks what a second copy of the same frame would overwrite
    assert comp.put(1, reader.latest())
    assert (right[:8] == 7).all() and (right[8:] == 90).all()
    comp.put_no_signal(1)  # NO SIGNAL in between: the same frame is drawn again
    assert comp.put(1, reader.latest()) and (right == 90).all()
    _publish(w1, 30, noise=False)
    assert comp.put(1, reader.latest()) and (right == 30).all()
    reader.close()


def test_encoder_renders_views_and_counts_size_anomalies(cfg, ring_writer):
    w1 = ring_writer.stream(cfg.ring.prefix, 1, "hd", slots=3)
    _publish(w1, 90)
    enc = ViewEncoder(cfg, "dual", RESOLUTIONS["720p"])
    pic = enc.render(None, None)
    img = cv2.imdecode(np.frombuffer(bytes(pic.jpeg), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert img.shape == (720, 2560)
    assert np.mean(np.abs(img[:, :1280].astype(int) - 40) < 6) > 0.8   # camera 0 has no ring: NO SIGNAL
    assert pic.index == 0
    # Pure noise is far above the spec's largest plausible JPEG: counted as an anomaly.
    y = np.random.default_rng(1).integers(0, 256, (720, 1280), dtype=np.uint8)
    w1.publish(y, y[::2, ::2], y[1::2, 1::2], time.monotonic_ns(), time.time_ns())
    single = ViewEncoder(cfg, "1", RESOLUTIONS["720p"])
    frame = single.readers[0].latest()
    pic = single.render(0, frame)
    assert pic is not None and len(pic.jpeg) > 500 * 1024 and single.stats()["anomalies"] == 1
    for e in (enc, single):
        for r in e.readers:
            r.close()


def test_a_picture_is_framed_once_for_both_codings(cfg, ring_writer):
    w0 = ring_writer.stream(cfg.ring.prefix, 0, slots=3)
    _publish(w0, 90)
    enc = ViewEncoder(cfg, "0", RESOLUTIONS["480p"])
    frame = enc.readers[0].latest()
    pic = enc.render(0, frame)
    assert pic is not None and pic.chunked[1] is pic.jpeg and pic.plain[1] is pic.jpeg
    plain = b"".join(pic.plain)
    assert pic.size == len(plain) and Dechunk().feed(b"".join(pic.chunked)) == plain
    part = next(parse_parts([plain, b"--frame\r\n"]))
    assert part.jpeg == pic.jpeg and part.index == frame.index == pic.index
    assert int(part.headers["x-capture-monotonic-ns"]) == frame.mono_ns == pic.mono_ns
    seconds, micros = divmod(frame.wall_ns // 1000, 10**6)
    assert part.headers["x-timestamp"] == f"{seconds}.{micros:06d}"
    for r in enc.readers:
        r.close()
