"""Streamer parts without processes: composition, encoding, the viewer table, parameters."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import cv2
import numpy as np
import pytest

from common.config import load
from common.ring import RingReader, RingWriter
from common.ring_layout import ring_name
from streamer.compose import Composer
from streamer.hub import ViewEncoder, frame_part
from streamer.params import RESOLUTIONS, ParamError, check_camera, check_res, check_view
from streamer.viewers import MAX_ROWS, ViewerTable
from tests.procs import isolated_env
from tests.streamer_client import parse_parts


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


def test_dual_picture_puts_cameras_side_by_side_and_no_signal_for_a_dead_one(cfg, ring_writer):
    w0 = ring_writer.stream(cfg.ring.prefix, 0, slots=3)
    try:
        _publish(w0, 120, noise=False)
        reader = RingReader(ring_name(cfg.ring.prefix, 0, "sd"))
        frame = reader.latest()
        comp = Composer([0, 1], RESOLUTIONS["480p"], ["CAM 0", "CAM 1"], label=False)
        assert comp.put(0, frame)
        comp.put_no_signal(1)
        y, u, v = comp.planes
        assert y.shape == (480, 1280) and u.shape == (240, 640) and v.shape == (240, 640)
        assert (y[:, :640] == 120).all() and (u[:, :320] == 100).all() and (v[:, :320] == 150).all()
        right = y[:, 640:]
        assert np.mean(right == 40) > 0.9 and (right == 235).any()    # grey with white text
        reader.close()
    finally:
        w0.close()


def test_a_frame_overwritten_while_copied_is_dropped(cfg, ring_writer):
    w0 = ring_writer.stream(cfg.ring.prefix, 0, slots=3)
    try:
        _publish(w0, 50)
        reader = RingReader(ring_name(cfg.ring.prefix, 0, "sd"))
        frame = reader.latest()
        for luma in (60, 70, 80):  # the writer laps the slot
            _publish(w0, luma)
        comp = Composer([0, 1], RESOLUTIONS["480p"], ["CAM 0", "CAM 1"], label=False)
        assert comp.put(0, frame) is False
        reader.close()
    finally:
        w0.close()


def test_encoder_renders_views_and_counts_size_anomalies(cfg, ring_writer):
    w1 = ring_writer.stream(cfg.ring.prefix, 1, "hd", slots=3)
    try:
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
        assert pic is not None and pic.jpeg_size > 500 * 1024 and single.stats()["anomalies"] == 1
        for e in (enc, single):
            for r in e.readers:
                r.close()
    finally:
        w1.close()


def test_parts_are_framed_for_multipart():
    jpeg = b"\xff\xd8" + bytes(100) + b"\xff\xd9"
    part, offset = frame_part(jpeg, 7, 1_700_000_000_123_456_000, 42)
    assert part[offset:offset + len(jpeg)] == jpeg and part.endswith(b"\r\n")
    parsed = next(parse_parts(iter([part[:10], part[10:], b"--frame\r\n"])))
    assert parsed.jpeg == jpeg and parsed.index == 7
    assert parsed.headers["x-timestamp"] == "1700000000.123456" and parsed.headers["content-length"] == "104"


def _row(address: str, res: str = "480p", conn: str | None = None) -> dict:
    return {"address": address, "res": res, "view": "dual", "conn": conn or uuid.uuid4().hex}


def test_viewer_table_counts_addresses_not_connections(tmp_path):
    table = ViewerTable(tmp_path, "viewers.json", limit=2)
    assert table.admit(_row("10.0.0.1")).ok
    assert table.admit(_row("10.0.0.1")).ok            # same address: still one viewer
    assert table.admit(_row("10.0.0.2")).ok
    refused = table.admit(_row("10.0.0.3"))
    assert not refused.ok and refused.holders == 2 and refused.limit == 2
    assert table.admit(_row("10.0.0.3", "720p")).ok     # other resolution, other slots
    assert table.counts() == {"480p": 2, "720p": 1}


def test_viewer_table_forgets_silent_rows_and_dead_workers(tmp_path):
    table = ViewerTable(tmp_path, "viewers.json", limit=1)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = time.monotonic()
    data = {"viewers": [{**_row("10.0.0.1"), "pid": os.getpid(), "last_seen": now - 5},   # not refreshed
                        {**_row("10.0.0.2"), "pid": gone.pid, "last_seen": now},          # worker died
                        {**_row("10.0.0.3"), "pid": os.getpid(), "last_seen": now + 50}],  # before a reboot
            "workers": {}}
    (tmp_path / "viewers.json").write_text(json.dumps(data))
    assert table.counts() == {"480p": 0, "720p": 0}
    assert table.admit(_row("10.0.0.4")).ok


def test_viewer_table_sync_and_remove(tmp_path):
    table = ViewerTable(tmp_path, "viewers.json", limit=2)
    table.admit(_row("10.0.0.1", conn="a"))
    table.admit(_row("10.0.0.2", conn="b"))
    table.sync([_row("10.0.0.1", conn="a")], [{"view": "dual", "res": "480p"}])
    data = table.read()
    assert [r["conn"] for r in data["viewers"]] == ["a"] and str(os.getpid()) in data["workers"]
    table.remove("a")
    assert table.read()["viewers"] == []


def test_viewer_table_is_bounded(tmp_path):
    table = ViewerTable(tmp_path, "viewers.json", limit=2)
    results = [table.admit(_row("10.0.0.1")).ok for _ in range(MAX_ROWS + 5)]
    assert results.count(True) == MAX_ROWS and len(table.read()["viewers"]) == MAX_ROWS


def test_parameters_are_checked_by_name(cfg):
    assert check_view(cfg, "dual") == "dual" and check_res("720p").width == 1280 and check_camera(cfg, "1") == 1
    for call, field in ((lambda: check_view(cfg, "2"), "view"), (lambda: check_res("1080p"), "res"),
                        (lambda: check_camera(cfg, "-1"), "camera_id")):
        with pytest.raises(ParamError) as info:
            call()
        body = info.value.body()
        assert body["field"] == field and body["allowed"] and field in body["error"]
