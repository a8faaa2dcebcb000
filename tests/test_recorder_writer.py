"""One segment file: timestamps, keyframes, a cut at any moment, and playback in Chromium."""
from __future__ import annotations

import functools
import http.server
import io
import os
import shutil
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from recorder.encode import settings as encoder
from recorder.encode.settings import EncoderSettings
from recorder.segments.writer import finalise, probe
from tests.support.browser import Browser, require_chromium
from tests.support.encoding import OneFile
from tests.support.recorder_check import ffprobe_duration, read_segment

W, H, FPS = 1280, 720, 30
PERIOD_NS = 1_000_000_000 / FPS


def picture(n: int) -> av.VideoFrame:
    data = np.empty((H * 3 // 2, W), np.uint8)
    ramp = (np.arange(W, dtype=np.uint16)[None, :] + np.arange(H, dtype=np.uint16)[:, None] + 4 * n)
    data[:H] = (ramp % 220 + 16).astype(np.uint8)
    data[H:] = 128
    return av.VideoFrame.from_ndarray(data, format="yuv420p")


def write(path: Path, times_ns: list[int], close: bool = True) -> OneFile:
    w = OneFile(path, EncoderSettings(encoder.SOFTWARE, W, H, FPS, FPS), times_ns[0], "camera=0 first_index=7")
    for n, t in enumerate(times_ns):
        w.add(picture(n), t)
    if close:
        w.close()
    return w


def test_timestamps_are_capture_times_so_a_stall_shows_as_a_stall(tmp_path: Path) -> None:
    t0 = 5_000_000_000
    times = [t0 + int(n * PERIOD_NS) for n in range(30)]
    times += [t0 + int(500e6) + int(n * PERIOD_NS) for n in range(30, 60)]   # 0.5 s without frames
    write(tmp_path / "s.mp4", times)
    seg = read_segment(tmp_path / "s.mp4")
    assert seg.frames == seg.decoded == 60 and seg.first_is_key and seg.first_index == 7
    assert abs(seg.duration_s - 2.5) < 1.5 / FPS
    with av.open(str(tmp_path / "s.mp4")) as c:
        keys = [p.is_keyframe for p in c.demux(c.streams.video[0]) if p.size]
    assert [i for i, k in enumerate(keys) if k] == [0, 30]   # one keyframe a second
    probed = ffprobe_duration(tmp_path / "s.mp4")
    if probed is not None:
        assert abs(probed - 2.5) < 1.5 / FPS


def test_a_file_cut_at_any_moment_plays_up_to_its_last_keyframe(tmp_path: Path) -> None:
    part = tmp_path / ".cam0_20261126_063000.mp4.part"
    w = write(part, [int(n * PERIOD_NS) for n in range(75)], close=False)
    cut = tmp_path / "cut.mp4"
    shutil.copyfile(part, cut)            # what a kill -9 or power cut would leave now
    seg = read_segment(cut)
    assert seg.first_is_key and seg.decoded >= 60 - 1
    check = probe(cut)
    assert check.ok and check.frames == seg.frames
    w.close()
    final = finalise(part, tmp_path / "cam0_20261126_063000.mp4")
    assert final.name == "cam0_20261126_063000.mp4" and read_segment(final).frames == 75
    # A name already taken is never overwritten: the next free second is used.
    part.write_bytes(b"")
    again = finalise(part, tmp_path / "cam0_20261126_063000.mp4")
    assert again.name == "cam0_20261126_063001.mp4" and final.stat().st_size > 0
    part.write_bytes(b"")
    assert finalise(part, tmp_path / "cam0_20261126_063000.mp4").name == "cam0_20261126_063002.mp4"
    part.write_bytes(b"")
    (tmp_path / "cam0_20261126_235959.mp4").write_bytes(b"")
    assert finalise(part, tmp_path / "cam0_20261126_235959.mp4").name == "cam0_20261126_235959_1.mp4"


def test_probe_never_raises_on_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(os.urandom(5000))
    assert probe(bad).ok is False
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert probe(empty).ok is False


def test_encoder_choice_falls_back_to_libx264_where_no_hardware_encoder_opens() -> None:
    assert encoder.choose("libx264", W, H, FPS) == ("libx264", "recorder.encode.settings = libx264")
    name, why = encoder.choose("auto", W, H, FPS)
    if encoder.hardware_opens(W, H, FPS):   # a reason: the V4L2 encoder is missing (a PC, a Pi 5)
        assert name == "libx264" and "h264_v4l2m2m does not open" in why
    else:
        assert name == "h264_v4l2m2m"


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges, which a browser needs to seek in an MP4."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        spec = self.headers.get("Range")
        if not spec or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        first, _, last = spec.split("=", 1)[1].partition("-")
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
        with open(path, "rb") as fh:
            fh.seek(start)
            body = fh.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


def test_a_finished_segment_plays_and_seeks_in_chromium(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    require_chromium()   # skips without Chromium; fails instead under SHT_REQUIRE_BROWSER=1
    browser: Browser = request.getfixturevalue("browser")
    write(tmp_path / "seg.mp4", [int(n * PERIOD_NS) for n in range(90)])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_RangeHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/seg.mp4"
    try:
        page, _ = browser.page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        result = page.evaluate("""(src) => new Promise(done => {
            const v = document.createElement('video');
            v.muted = true;
            v.onerror = () => done({error: v.error ? v.error.message || v.error.code : 'error'});
            v.onloadedmetadata = () => {
                const duration = v.duration;
                v.onseeked = () => done({duration, at: v.currentTime, width: v.videoWidth,
                                         seekable: v.seekable.length ? v.seekable.end(0) : 0});
                v.currentTime = 2.0;
            };
            setTimeout(() => done({timeout: v.readyState}), 20000);
            document.body.appendChild(v);
            v.src = src;
        })""", url)
    finally:
        server.shutdown()
    assert "error" not in result and "timeout" not in result, result
    assert abs(result["duration"] - 3.0) < 0.05 and result["width"] == W
    assert abs(result["at"] - 2.0) < 0.05 and result["seekable"] > 2.9


def test_recovery_names_every_leftover_and_never_overwrites(tmp_path: Path) -> None:
    from recorder.segments.recovery import recover
    root = tmp_path / "rec"
    day = root / "cam0" / "261126"
    day.mkdir(parents=True)
    part = day / ".cam0_20261126_063000.mp4.part"
    w = write(part, [int(n * PERIOD_NS) for n in range(65)], close=False)
    shutil.copyfile(part, day / ".cam0_20261126_063030.mp4.part")   # cut mid-write
    w.close()
    (day / "cam0_20261126_063000.mp4").write_bytes(b"older file of the same name")
    (day / ".cam0_20261126_063100.mp4.part").write_bytes(b"")       # died before writing a byte
    data = (day / ".cam0_20261126_063030.mp4.part").read_bytes()
    header = data[:data.index(b"moof") - 4]                          # died before its first fragment
    (day / ".cam0_20261126_063130.mp4.part").write_bytes(header)
    other = root / "cam1" / "261126" / ".cam1_20261126_063000.mp4.part"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"x")                                          # another camera's: not ours
    done = recover(root, 0)
    assert [d["file"] for d in done] == ["cam0/261126/cam0_20261126_063001.mp4",
                                         "cam0/261126/cam0_20261126_063030.mp4"]
    assert all(d["playable"] for d in done) and done[0]["frames"] == 65 and done[1]["frames"] >= 59
    assert (day / "cam0_20261126_063000.mp4").read_bytes() == b"older file of the same name"
    assert sorted(p.name for p in day.iterdir()) == ["cam0_20261126_063000.mp4", "cam0_20261126_063001.mp4",
                                                     "cam0_20261126_063030.mp4"]
    assert other.exists()


def test_the_open_segment_is_synced_to_disk_every_interval(tmp_path: Path, monkeypatch) -> None:
    import time

    from recorder.segments import syncer as syncer_module
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(syncer_module.os, "fdatasync", lambda fd: (synced.append(fd), real(fd)))
    path = tmp_path / "seg.part"
    path.write_bytes(b"data")
    s = syncer_module.Syncer(0.05)
    try:
        s.watch(path)
        deadline = time.monotonic() + 10
        while len(synced) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(synced) >= 3
        s.watch(None)
        time.sleep(0.2)
        count = len(synced)
        time.sleep(0.3)
        assert len(synced) == count   # nothing watched: nothing synced
    finally:
        s.close()
    off = syncer_module.Syncer(0)
    off.watch(path)
    time.sleep(0.2)
    off.close()
    assert len(synced) == count
