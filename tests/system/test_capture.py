"""``python -m capture``: streams, stop and restart, ownership, the file and v4l2 sources."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import av
import numpy as np
import pytest

from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from common.video.overlay import Y_BOX
from tests.support.procs import wait_until


def _readers(env: dict[str, str], camera: int = 0) -> dict[str, RingReader]:
    return {s: RingReader(ring_name(env["SHT__RING__PREFIX"], camera, s), stale_seconds=2.0) for s in ("hd", "sd")}


def _close(readers: dict[str, RingReader]) -> None:
    for r in readers.values():
        r.close()


def _segments(env: dict[str, str]) -> list[Path]:
    return list(Path("/dev/shm").glob(env["SHT__RING__PREFIX"] + "*"))


# -- the process ----------------------------------------------------------------------------
def test_publishes_hd_and_sd_at_30fps_with_name_and_time(procs, sht_env) -> None:
    procs.capture(0)
    rings = _readers(sht_env)
    try:
        wait_until(lambda: all(r.status().live() for r in rings.values()), 20)
        first = {s: r.status().last_index for s, r in rings.items()}
        time.sleep(2.0)
        for stream, (w, h), slots in (("hd", (1280, 720), 8), ("sd", (640, 480), 4)):
            st = rings[stream].status()
            assert (st.width, st.height) == (w, h)
            assert rings[stream].geo.slot_count == slots   # ring.slots; ring.sd_slots (newest-frame readers)
            assert st.source == "synthetic" and st.camera_name == "CAM 0" and st.writer_state == "running"
            assert 40 <= st.last_index - first[stream] <= 75  # 30 fps (a loaded machine may skip a few)
            assert 20 <= st.fps <= 36
            frame = rings[stream].next_frame(2.0)
            m = 2 * max(1, h // 240)  # overlay margin: the name's dark box starts there
            corner = frame.y[m:m + 2, m:m + 2].copy()
            assert frame.valid() and (corner == Y_BOX).all()
            assert (frame.u[m // 2 + 1, m // 2 + 1] == 128)
        hd, sd = rings["hd"].latest(), rings["sd"].latest()
        assert hd.index == sd.index and hd.mono_ns == sd.mono_ns  # one capture feeds both
        assert "source synthetic (camera.source = synthetic)" in procs.log("capture0")
    finally:
        _close(rings)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_within_a_second_and_removes_the_rings(procs, sht_env, sig) -> None:
    proc = procs.capture(0)
    rings = _readers(sht_env)
    try:
        wait_until(lambda: all(r.status().live() for r in rings.values()), 20)
        t0 = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(5) == 0
        assert time.monotonic() - t0 < 1.0
        assert _segments(sht_env) == []
        st = rings["hd"].status()  # the reader still maps the removed segment: writer gone
        assert st.writer_state == "gone" and not st.writer_alive
        assert "camera 0: stopped" in procs.log("capture0")
    finally:
        _close(rings)


def test_second_capture_of_a_camera_refused_while_first_keeps_running(procs, sht_env) -> None:
    first = procs.capture(0)
    rings = _readers(sht_env)
    try:
        wait_until(lambda: rings["hd"].status().live(), 20)
        second = procs.start("capture0b", "-m", "capture", "--camera", "0")
        assert second.wait(30) == 1
        log = procs.log("capture0b")
        assert f"is already written by live process {first.pid}" in log and "only one capture process" in log
        assert "Traceback" not in log
        before = rings["hd"].status().last_index
        wait_until(lambda: rings["hd"].status().last_index > before + 10, 5)
        assert rings["hd"].status().writer_pid == first.pid and first.poll() is None
    finally:
        _close(rings)


def test_killed_capture_restarts_and_readers_follow(procs, sht_env) -> None:
    procs.capture(0)
    rings = _readers(sht_env)
    try:
        wait_until(lambda: rings["sd"].status().live(), 20)
        old = rings["sd"].next_frame(2.0).incarnation
        procs.kill("capture0")
        wait_until(lambda: not rings["sd"].status().writer_alive, 10)
        procs.capture(0)
        frame = wait_until(lambda: rings["sd"].next_frame(0.5), 20)
        assert frame.incarnation != old
        st = rings["sd"].status()
        assert st.restarts == 1 and st.live()
        assert "reclaimed the segment" in procs.log("capture0")
    finally:
        _close(rings)


# -- file and v4l2 sources ----------------------------------------------------------------------
BAR = (200, 220)  # in a 320x180 picture: x 800..880 once scaled to 1280x720


def _make_video(path: Path, frames: int = 20, fps: int = 10) -> None:
    """A 320x180 clip: grey, with a white vertical bar at BAR."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for _ in range(frames):
            y = np.full((180, 320), 60, np.uint8)
            y[:, BAR[0]:BAR[1]] = 230
            i420 = np.concatenate([y.reshape(-1), np.full(2 * 90 * 160, 128, np.uint8)]).reshape(270, 320)
            for packet in stream.encode(av.VideoFrame.from_ndarray(i420, format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _bright_columns(y: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero(y[y.shape[0] // 2] > 150)
    return int(cols.min()), int(cols.max())


def test_file_source_loops_at_the_camera_rate_scaled_and_cropped(procs, sht_env, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    _make_video(clip)  # 2 s at 10 fps
    env = dict(sht_env, SHT__CAMERA__SOURCE="file", SHT__CAMERA__FILES=f'["{clip}"]', SHT__CAMERA__OVERLAY="false",
               SHT__CAMERA__FPS="20")
    procs.start("capture0", "-m", "capture", "--camera", "0", env=env)
    rings = _readers(env)
    try:
        wait_until(lambda: rings["hd"].status().live(), 20)
        first = rings["hd"].status().last_index
        time.sleep(3.0)  # past the end of the clip: it starts again
        st = rings["hd"].status()
        assert st.source == "file" and st.live()
        assert 45 <= st.last_index - first <= 75  # camera.fps (20), not the file's own 10
        hd, sd = rings["hd"].next_frame(2.0).copy(), rings["sd"].next_frame(2.0).copy()
        lo, hi = _bright_columns(hd.y)
        assert abs(lo - 800) <= 6 and abs(hi - 879) <= 6
        # sd = centre 960x720 of hd scaled by 2/3: the bar keeps its shape (not squeezed to 4:3).
        lo, hi = _bright_columns(sd.y)
        assert abs(lo - (800 - 160) * 2 / 3) <= 6 and abs(hi - (880 - 160) * 2 / 3) <= 6
        assert abs(int(hd.u.mean()) - 128) <= 2 and abs(int(sd.v.mean()) - 128) <= 2
        t0 = time.monotonic()
        assert procs.stop("capture0") == 0 and time.monotonic() - t0 < 1.0
    finally:
        _close(rings)


def test_file_source_without_a_usable_file_fails_clearly(procs, sht_env, tmp_path: Path) -> None:
    env = dict(sht_env, SHT__CAMERA__SOURCE="file")
    assert procs.start("nofile", "-m", "capture", "--camera", "0", env=env).wait(30) == 1
    log = procs.log("nofile")
    assert "camera.files has no entry for camera 0" in log and "Traceback" not in log
    env["SHT__CAMERA__FILES"] = '["/nonexistent/clip.mp4"]'
    assert procs.start("missing", "-m", "capture", "--camera", "0", env=env).wait(30) == 1
    assert "video file /nonexistent/clip.mp4 does not exist" in procs.log("missing")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video\n" * 100)
    env["SHT__CAMERA__FILES"] = f'["{not_video}"]'
    assert procs.start("garbage", "-m", "capture", "--camera", "0", env=env).wait(30) == 1
    log = procs.log("garbage")
    assert f"video file {not_video} cannot be opened" in log and "Traceback" not in log
    assert _segments(sht_env) == []


def test_v4l2_without_a_device_fails_clearly(procs, sht_env, tmp_path: Path) -> None:
    env = dict(sht_env, SHT__CAMERA__SOURCE="v4l2", SHT__CAMERA__V4L2_DEVICES='["/dev/video-sht-none"]')
    assert procs.start("webcam", "-m", "capture", "--camera", "0", env=env).wait(30) == 1
    log = procs.log("webcam")
    assert "v4l2 device /dev/video-sht-none does not exist (is the webcam plugged in?)" in log
    assert "Traceback" not in log
    not_a_device = tmp_path / "video0"
    not_a_device.write_bytes(b"\0" * 64)
    env["SHT__CAMERA__V4L2_DEVICES"] = f'["{not_a_device}"]'
    assert procs.start("webcam2", "-m", "capture", "--camera", "0", env=env).wait(30) == 1
    log = procs.log("webcam2")
    assert f"v4l2 device {not_a_device} cannot be opened" in log and "Traceback" not in log
