"""The recorder as a process, fed by a synthetic capture: segments, signals, crashes, pause."""
from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from common.archive.index import DB_NAME, ArchiveIndex
from common.state.controls import Controls
from tests.support.procs import REPO, Procs, isolated_env, wait_until
from tests.support.recorder_check import NAME_RE, ffprobe_duration, finished, parts, read_segment, status

FPS = 30


def system(tmp_path: Path, **overrides: object) -> tuple[dict[str, str], Procs, Path]:
    # A deep ring (about 1 s) so a test machine busy with other work does not make drops.
    settings: dict[str, object] = {"recorder__segment_seconds": 2, "ring__slots": 32, **overrides}
    env = isolated_env(tmp_path / "sht", **settings)
    return env, Procs(env, tmp_path / "logs"), Path(env["SHT__RECORDER__ROOT"])


@pytest.fixture
def rec_system(tmp_path: Path):
    made: list[Procs] = []

    def make(**overrides: object) -> tuple[dict[str, str], Procs, Path]:
        env, procs, root = system(tmp_path, **overrides)
        made.append(procs)
        return env, procs, root

    yield make
    for procs in made:
        procs.close()


def start_recorder(procs: Procs, name: str = "rec0") -> subprocess.Popen:
    return procs.start(name, "-m", "recorder", "--camera", "0")


def test_back_to_back_segments_hold_every_frame_and_sigterm_closes_the_last(rec_system) -> None:
    env, procs, root = rec_system()
    procs.capture(0)
    rec = start_recorder(procs)
    wait_until(lambda: status(env).get("segments_written", 0) >= 4, timeout=60)
    # The recorder copies frames as bytes and never loads numpy (about 10 MB a recorder).
    maps = Path(f"/proc/{rec.pid}/maps").read_text()
    assert "libavcodec" in maps and "numpy" not in maps
    t0 = time.monotonic()
    rec.send_signal(signal.SIGTERM)
    assert rec.wait(10) == 0
    stop_s = time.monotonic() - t0
    assert stop_s < 4.0, f"recorder took {stop_s:.1f} s to stop"
    st = status(env)
    assert st["state"] == "stopped" and st["last_error"] == ""
    assert parts(root) == [], "a temporary file was left after SIGTERM"

    files = finished(root)
    segs = [read_segment(p) for p in files]
    assert len(segs) >= 5   # a short first one, at least three full ones, the one SIGTERM closed
    for seg in segs:
        assert seg.first_is_key, f"{seg.path.name} does not start with a keyframe"
        assert seg.decoded == seg.frames, f"{seg.path.name}: {seg.decoded} of {seg.frames} frames decode"
        assert seg.incarnation == segs[0].incarnation
    # No gap and no duplicate: each segment starts with the ring frame after the previous one's
    # last.  A recorder the ring lapped (a machine too busy) counts the frames it lost; on an
    # idle machine there are none, and on a busy one they must be few and all accounted for.
    dropped = {e["file"]: e["dropped"] for e in st["recent_segments"]}
    lost = [dropped[str(seg.path.relative_to(root))] for seg in segs]
    for (a, b), a_lost in zip(itertools.pairwise(segs), lost):
        assert b.first_index == a.first_index + a.frames + a_lost, f"{a.path.name} -> {b.path.name}"
    assert sum(s.frames for s in segs) == st["frames_written"]
    assert sum(s.frames for s in segs) + sum(lost) == segs[-1].first_index + segs[-1].frames - segs[0].first_index
    assert sum(lost) == st["frames_dropped"] <= st["frames_written"] // 20

    # Full segments (all but the first and the last): 2 s on the wall clock's even seconds, and
    # 60 frames unless the capture process itself missed some (a busy machine).
    for seg, seg_lost in zip(segs[1:-1], lost[1:-1]):
        assert 2 * FPS - 4 <= seg.frames + seg_lost <= 2 * FPS + 1, f"{seg.path.name}: {seg.frames} frames"
        assert abs(seg.duration_s - 2.0) <= 1.5 / FPS, f"{seg.path.name}: {seg.duration_s} s"
        probed = ffprobe_duration(seg.path)
        if probed is not None:
            assert abs(probed - 2.0) <= 1.5 / FPS
        assert int(NAME_RE.match(seg.path.name).group(3)) % 2 == 0
    assert 0 < segs[-1].frames < 2 * FPS + 2
    # Names and folders: cam0/YYMMDD/cam0_YYYYMMDD_HHMMSS.mp4 of the first frame's local time.
    for seg in segs:
        m = NAME_RE.match(seg.path.name)
        day = datetime.strptime(m.group(2), "%Y%m%d")
        assert seg.path.parent.name == day.strftime("%y%m%d") and seg.path.parent.parent.name == "cam0"
    assert st["recent_segments"][-1]["file"] == str(files[-1].relative_to(root))


def test_sigkill_mid_segment_leaves_a_playable_file_that_a_restart_finalises(rec_system) -> None:
    env, procs, root = rec_system(recorder__segment_seconds=20, recorder__align_to_clock=False)
    procs.capture(0)
    start_recorder(procs)
    st = wait_until(lambda: (s := status(env)).get("current_frames", 0) >= 75 and s, timeout=40)
    seen = st["current_frames"]
    procs.kill("rec0")
    left = parts(root)
    assert len(left) == 1 and finished(root) == []
    seg = read_segment(left[0])
    # Everything up to the last fragment (one at least every second) survived the kill.
    assert seg.first_is_key and seg.decoded >= seen - FPS - 1, (seg.decoded, seen)

    start_recorder(procs, "rec0b")
    st = wait_until(lambda: (s := status(env)).get("recovered_files") and s, timeout=30)
    final = root / st["recovered_files"][0]["file"]
    assert final.name == left[0].name[1:-len(".part")]
    assert not left[0].exists() and final.exists()
    assert st["recovered_files"][0]["playable"] is True
    assert read_segment(final).decoded == seg.decoded
    assert "left by a crash" in procs.log("rec0b")


def test_segments_the_index_did_not_take_before_a_sigkill_are_in_it_after_the_restart(rec_system) -> None:
    """The archive index is locked by another writer: recording goes on, the finished segments
    wait for it (listed from memory meanwhile); a kill -9 then loses them from the queue, and the
    next start finds the files."""
    env, procs, root = rec_system()
    procs.capture(0)
    start_recorder(procs)
    wait_until(lambda: ArchiveIndex(root).days(0), timeout=40)   # (the index exists, a segment is listed)
    blocker = sqlite3.connect(root / DB_NAME, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        wait_until(lambda: len(on_disk_only(root)) >= 2, timeout=30)   # recording goes on meanwhile
        procs.kill("rec0")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    on_disk = {p.relative_to(root).as_posix() for p in finished(root)}
    missing = on_disk_only(root)
    assert len(missing) >= 2
    left = parts(root)
    again = start_recorder(procs, "rec0b")
    wait_until(lambda: (s := status(env)).get("pid") == again.pid and s.get("state") == "recording", timeout=30)
    rows = indexed(root)
    assert on_disk <= set(rows), sorted(on_disk - set(rows))
    kept = [p.with_name(p.name[1:-len(".part")]) for p in left]   # (a part with no frame is removed)
    recovered = {p.relative_to(root).as_posix() for p in kept if p.exists()}
    assert recovered <= set(rows)
    for file in missing | recovered:   # start from the name, duration from the file
        m = NAME_RE.match(Path(file).name)
        assert m is not None
        named = datetime.strptime(f"{m.group(2)}{m.group(3)}", "%Y%m%d%H%M%S").timestamp()
        assert rows[file][0] == named
        assert rows[file][1] is None or 0 < rows[file][1] <= 2.5


def on_disk_only(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in finished(root)} - set(indexed(root))


def indexed(root: Path) -> dict[str, tuple[float, float | None]]:
    """The archive index's rows, read as they are (no refresh): file -> (start, duration)."""
    try:
        with sqlite3.connect(root / DB_NAME) as conn:
            return {f: (s, d) for f, s, d in conn.execute("SELECT file, start, duration FROM recordings")}
    except sqlite3.Error:
        return {}


def test_capture_killed_and_restarted_while_recording(rec_system) -> None:
    env, procs, root = rec_system(recorder__segment_seconds=30, recorder__align_to_clock=False)
    procs.capture(0)
    rec = start_recorder(procs)
    wait_until(lambda: status(env).get("current_frames", 0) >= 30, timeout=40)
    procs.kill("capture0")
    st = wait_until(lambda: (s := status(env)).get("segments_written") == 1 and not s["recording"] and s,
                    timeout=20)
    assert st["state"] == "waiting" and "no frame" in st["recent_segments"][0]["closed_because"]
    procs.capture(0)
    wait_until(lambda: status(env).get("current_frames", 0) >= 30, timeout=40)
    assert rec.poll() is None, "the recorder must not exit when the capture process dies"
    assert procs.stop("rec0") == 0
    segs = [read_segment(p) for p in finished(root)]
    assert len(segs) == 2 and segs[0].incarnation != segs[1].incarnation
    assert all(s.first_is_key and s.decoded == s.frames > 0 for s in segs)
    assert status(env)["last_error"] == ""


def test_pause_closes_the_segment_and_resume_starts_a_new_one(rec_system) -> None:
    env, procs, root = rec_system(recorder__segment_seconds=30, recorder__align_to_clock=False)
    run_dir = Path(env["SHT__PATHS__RUN_DIR"])
    procs.capture(0)
    start_recorder(procs)
    wait_until(lambda: status(env).get("current_frames", 0) >= 15, timeout=40)
    Controls(run_dir).update(recording={0: False})
    st = wait_until(lambda: (s := status(env)).get("state") == "paused" and s, timeout=10)
    assert st["recording"] is False and st["current_file"] is None and st["segments_written"] == 1
    assert parts(root) == []
    time.sleep(1.5)
    assert len(finished(root)) == 1 and parts(root) == []
    Controls(run_dir).update(recording={0: True})
    wait_until(lambda: status(env).get("state") == "recording", timeout=10)
    wait_until(lambda: status(env).get("current_frames", 0) >= 10, timeout=10)
    assert procs.stop("rec0") == 0
    segs = [read_segment(p) for p in finished(root)]
    assert len(segs) == 2 and segs[1].first_index > segs[0].first_index + segs[0].frames
    assert status(env)["frames_dropped"] == 0   # frames skipped while paused are not drops


def test_pause_flag_set_before_start_is_honoured(rec_system) -> None:
    env, procs, root = rec_system()
    Controls(Path(env["SHT__PATHS__RUN_DIR"])).update(recording={0: False})
    procs.capture(0)
    start_recorder(procs)
    wait_until(lambda: status(env).get("state") == "paused", timeout=20)
    time.sleep(1.0)
    assert finished(root) == [] and parts(root) == []


def test_waits_calmly_for_the_capture_process(rec_system) -> None:
    env, procs, _root = rec_system()
    rec = start_recorder(procs)
    wait_until(lambda: (s := status(env)).get("state") == "waiting"
               and "capture not running" in s["waiting_for"], timeout=20)
    time.sleep(1.5)
    assert rec.poll() is None
    procs.capture(0)
    wait_until(lambda: status(env).get("state") == "recording", timeout=30)


def test_bad_configuration_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "sht", recorder__preset="warp")
    out = subprocess.run([sys.executable, "-m", "recorder", "--camera", "0"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "recorder.preset" in lines[0] and "ultrafast" in lines[0]
    out = subprocess.run([sys.executable, "-m", "recorder", "--camera", "5"], cwd=REPO,
                         env={**env, "SHT__RECORDER__PRESET": "ultrafast"}, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "--camera 5" in out.stderr and "Traceback" not in out.stderr
    assert not os.path.exists(env["SHT__RECORDER__ROOT"] + "/cam5")
