"""The rpicam-vid engine, with the stand-in script tests/fakes/rpicam-vid."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.procs import REPO, Procs, isolated_env, wait_until
from tests.support.recorder_check import finished, read_segment, status

FAKE = REPO / "tests" / "fakes" / "rpicam-vid"


def rpicam_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = isolated_env(tmp_path / "sht", recorder__segment_seconds=2, recorder__engine="rpicam-vid",
                       recorder__rpicam_vid=str(FAKE))
    # The stand-in is a Python script: let its `env python3` find this interpreter (and PyAV).
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def test_segments_are_remuxed_named_and_rpicam_vid_is_restarted(tmp_path: Path) -> None:
    cmd_log = tmp_path / "rpicam-commands.txt"
    env = rpicam_env(tmp_path, FAKE_RPICAM_EXIT_AFTER="2", FAKE_RPICAM_LOG=str(cmd_log))
    root = Path(env["SHT__RECORDER__ROOT"])
    # A chunk left by a crash of an earlier run: made by the stand-in for about a second.
    work = root / "cam0" / ".rpicam"
    work.mkdir(parents=True)
    try:
        subprocess.run([str(FAKE), "--camera", "0", "--width", "640", "--height", "480", "--framerate", "30",
                        "-o", str(work / "r1_%05d.h264")],
                       env={k: v for k, v in env.items() if k != "FAKE_RPICAM_LOG"}, timeout=1.2)
    except subprocess.TimeoutExpired:
        pass   # killed mid-write, like a power cut
    assert (work / "r1_00000.h264").exists()

    procs = Procs(env, tmp_path / "logs")
    try:
        procs.start("rec0", "-m", "recorder", "--camera", "0")
        st = wait_until(lambda: (s := status(env)).get("segments_written", 0) >= 3
                        and s.get("rpicam_restarts", 0) >= 1 and s.get("state") == "recording"
                        and s.get("current_file") and s,   # the restarted rpicam-vid has written
                        timeout=60)
        assert st["engine"] == "rpicam-vid" and st["recovered_files"] and st["recovered_files"][0]["frames"] > 0
        assert "exited with code 1" in st["last_error"]
        assert procs.stop("rec0") == 0
    finally:
        procs.close()
    commands = cmd_log.read_text().splitlines()
    assert len(commands) >= 2   # started, exited after two files, started again
    first = commands[0].split()
    # The fake lists a Camera Module 3 first: its full-view mode, scaled down by the ISP.
    assert first[:6] == ["--camera", "0", "--mode", "2304:1296:10:P", "-t", "0"]
    assert "-n" in first and "--inline" in first
    assert "--low-latency" in first  # no B-frames: the remux's pts = dts is right
    assert first[first.index("--segment") + 1] == str(2000 - 17)
    assert first[first.index("-o") + 1].endswith("_%05d.h264")
    files = finished(root)
    assert len(files) >= 4
    for path in files:
        seg = read_segment(path)
        assert seg.frames > 0 and seg.decoded == seg.frames and seg.first_is_key, path.name
    # The full ones last about a segment (rpicam-vid cuts at the first keyframe after it).
    full = [read_segment(p) for p in files if read_segment(p).frames >= 59]
    assert full and all(abs(s.duration_s - 2.0) <= 1.1 for s in full)
    assert list(work.glob("*.h264")) == [], "every chunk is remuxed and removed when the recorder stops"


def test_refuses_a_camera_that_its_capture_process_owns(tmp_path: Path) -> None:
    env = rpicam_env(tmp_path)
    procs = Procs(env, tmp_path / "logs")
    try:
        # A capture process started under the pyav engine (with rpicam-vid, capture leaves the camera alone).
        procs.start("capture0", "-m", "capture", "--camera", "0", env=dict(env, SHT__RECORDER__ENGINE="pyav"))
        from common.config import load
        from common.ipc.frame_reader import RingReader
        from common.ipc.names import ring_name
        reader = RingReader(ring_name(load(env).ring.prefix, 0, "hd"))
        wait_until(lambda: reader.status().writer_alive, timeout=30)
        reader.close()
        out = subprocess.run([sys.executable, "-m", "recorder", "--camera", "0"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2
        assert "owned by its capture process" in out.stderr and "Traceback" not in out.stderr
        assert not (Path(env["SHT__RECORDER__ROOT"]) / "cam0" / ".rpicam").exists()
    finally:
        procs.close()


@pytest.mark.parametrize(("knobs", "why"), [
    ({"FAKE_RPICAM_VERSION": "1.7.0"},
     "rpicam-vid 1.7.0 is too old: --segment with the libav encoder (Raspberry Pi 5) needs rpicam-apps 1.8.0 or later"),
    ({"FAKE_RPICAM_LIBAV": "0"}, "rpicam-vid has no libav encoder: sudo apt install rpicam-apps-encoder"),
], ids=["too old", "no libav encoder"])
def test_an_rpicam_vid_that_cannot_record_is_refused_clearly_and_the_recorder_stays_up(
        tmp_path: Path, knobs: dict[str, str], why: str) -> None:
    cmd_log = tmp_path / "rpicam-commands.txt"
    env = rpicam_env(tmp_path, FAKE_RPICAM_LOG=str(cmd_log), **knobs)
    procs = Procs(env, tmp_path / "logs")
    try:
        proc = procs.start("rec0", "-m", "recorder", "--camera", "0")
        st = wait_until(lambda: (s := status(env)).get("state") == "error" and s, timeout=30)
        assert st["last_error"].startswith(why)
        time.sleep(1.0)
        assert proc.poll() is None and not cmd_log.exists(), "nothing was started, nothing crash-loops"
        assert "Traceback" not in procs.log("rec0")
        assert procs.stop("rec0") == 0
    finally:
        procs.close()


@pytest.mark.parametrize(("libav", "said"), [("1", True), ("0", False)])
def test_version_lines_are_read_like_rpicam_apps_prints_them(monkeypatch, tmp_path: Path, libav: str,
                                                             said: bool) -> None:
    from recorder.rpicam import build_problem, rpicam_build
    monkeypatch.setenv("PATH", rpicam_env(tmp_path)["PATH"])
    monkeypatch.delenv("FAKE_RPICAM_VERSION", raising=False)
    monkeypatch.setenv("FAKE_RPICAM_LIBAV", libav)
    build = rpicam_build(str(FAKE))
    assert build.version == (1, 9, 1) and build.line.startswith("rpicam-apps build: v1.9.1") and build.libav is said
    assert (build_problem(build, "Raspberry Pi 5 Model B Rev 1.0") == "") is said
