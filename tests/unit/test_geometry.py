"""One geometry: the stream sizes and the I420 planes, declared once and used everywhere."""
from __future__ import annotations

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from capture.sources.av_source import AvSource
from capture.sources.base import Source
from capture.sources.picam import PicameraSource
from capture.sources.synthetic import SyntheticSource
from common.config import load
from common.ipc.frame_layout import Geometry
from common.video.i420 import frame_bytes, planes
from common.video.streams import STREAMS
from streamer import params
from streamer.live.mjpeg.compose import Composer
from tests.support.procs import isolated_env


def test_planes_are_views_of_one_tight_frame_in_ring_order() -> None:
    w, h = 8, 4
    frame = np.arange(frame_bytes(w, h), dtype=np.uint8)
    y, u, v = planes(frame, w, h)
    assert (y.shape, u.shape, v.shape) == ((4, 8), (2, 4), (2, 4))
    geo = Geometry(w, h, 2)
    assert frame_bytes(w, h) == geo.frame_bytes
    assert y[0, 0] == 0 and u[0, 0] == geo.u_offset and v[0, 0] == geo.v_offset
    y[:] = 1
    assert (frame[:w * h] == 1).all()              # a view, not a copy
    two_d = frame.reshape(h * 3 // 2, w)           # the rings' (h*3/2, w) form gives the same planes
    assert all(np.shares_memory(a, b) and (a == b).all() for a, b in zip(planes(two_d, w, h), (y, u, v)))
    with pytest.raises(ValueError):
        planes(frame[:-1], w, h)                   # too short
    with pytest.raises(ValueError):
        planes(frame.reshape(h * 3 // 2, w)[:, ::2], w // 2, h)  # not contiguous: it would copy


def test_resolutions_are_the_streams() -> None:
    by_stream = {r.stream: r for r in params.RESOLUTIONS.values()}
    assert set(by_stream) == set(STREAMS)
    for stream, (w, h) in STREAMS.items():
        res = by_stream[stream]
        assert (res.width, res.height, res.name, res.legacy) == (w, h, f"{h}p", f"{w}x{h}")


def test_page_config_gives_the_sizes(tmp_path) -> None:
    app = FastAPI()
    app.state.cfg = load(isolated_env(tmp_path / "sht"))
    app.include_router(params.router)
    doc = TestClient(app).get("/api/config").json()
    assert doc["views"] == ["dual", "0", "1"] and doc["cameras"] == ["0", "1"]
    assert doc["resolutions"] == {r.name: {"width": r.width, "height": r.height}
                                  for r in params.RESOLUTIONS.values()}


def test_a_dual_view_is_two_pictures_wide() -> None:
    for res in params.RESOLUTIONS.values():
        comp = Composer([0, 1], res, ["CAM 0", "CAM 1"], label=False)
        y, u, v = comp.planes
        assert y.shape == (res.height, 2 * res.width) and u.shape == v.shape == (res.height // 2, res.width)
        assert all(np.shares_memory(p, comp.buffer) for p in comp.planes)


def test_the_synthetic_camera_fills_both_stream_sizes() -> None:
    source = SyntheticSource(0, 30)
    source.start()
    try:
        frame = source.capture(1.0)
        slots = {s: planes(np.zeros(frame_bytes(w, h), np.uint8), w, h) for s, (w, h) in STREAMS.items()}
        frame.fill(slots["hd"], slots["sd"])
        for stream in STREAMS:
            assert slots[stream][0].std() > 5      # a picture was drawn over the whole size
    finally:
        source.close()


def test_every_source_implements_the_whole_source_interface() -> None:
    sources = [SyntheticSource(0, 30), PicameraSource(0, 30, 1.0), AvSource("file", "/nonexistent.mp4", 0, 30, 1.0)]
    for source in sources:
        assert isinstance(source, Source), type(source).__name__
        assert source.missed == 0 and source.kind in ("synthetic", "picamera2", "file")
        source.interrupt()
        source.close()   # closing a source never started is allowed
