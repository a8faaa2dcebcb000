"""The whole tree under a real supervisord: start, self-healing after kill -9, clean stop.

Each test makes a second installation in a temporary folder (a copy of the code, the repo's
supervisord.conf and its own sht.toml with another ring prefix and port), which also proves
that two installations do not collide.
"""
from __future__ import annotations

import glob
import os
import signal
import socket
import stat
import time
from datetime import datetime
from pathlib import Path

import av
import httpx
import pytest

from tests.support.install import Install, make_install, start_daemon, stop_daemon
from tests.support.procs import wait_until
from tests.support.streamer_client import Reader, read_parts

# How long healing after a kill -9 may take.  supervisord (4.3) reaps an exit and respawns
# only on its one-second poll, so a restart starts 1-2 s after the kill and is RUNNING a
# startsecs later; a fresh python then loads numpy/av/fastapi, which on a 2-core machine
# shared with other work took 2-7 s (measured).  The page retries a lost stream by itself
# every 2 s, so what a viewer needs is that it comes back without a reload, not a deadline;
# a program that stays down or restarts in a loop (supervisord's growing backoff) still fails.
HEAL_S = 10.0


@pytest.fixture
def install(tmp_path: Path):
    inst = make_install(tmp_path)
    yield inst
    stop_daemon(inst)




def fresh_part_after(reader: Reader, t: float) -> bool:
    """The viewer got a part carrying a frame captured after wall time ``t``."""
    return any(float(p.headers.get("x-timestamp", 0)) > t for p in list(reader.last))


def playable(path: Path) -> float:
    """Decode the whole file; returns its duration in seconds (one bad packet at a cut is tolerated)."""
    frames, first, last = 0, None, None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            try:
                for frame in packet.decode():
                    frames += 1
                    t = float(frame.pts * stream.time_base)
                    first = t if first is None else first
                    last = t
            except av.error.InvalidDataError:
                continue
    assert frames > 0, f"{path} has no decodable frame"
    return (last - first) + 1 / 30


def serving(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start_time(path: Path) -> float:
    stamp = path.stem.split("_", 1)[1]
    return datetime.strptime(stamp, "%Y%m%d_%H%M%S").timestamp()


def kill9(pid: int) -> None:
    assert pid > 0, "no pid to kill"  # os.kill(0, ...) would hit this test's own process group
    os.kill(pid, signal.SIGKILL)


def test_tree_heals_after_kill_9_and_stops_clean(install: Install) -> None:
    start_daemon(install)
    wait_until(install.all_running, 10, 0.3)
    wait_until(lambda: serving(install.port), 10, 0.1)
    viewer = Reader(f"http://127.0.0.1:{install.port}/stream?view=dual&res=480p").start()
    wait_until(lambda: viewer.parts > 5, 10)
    wait_until(lambda: install.recordings(0) and install.recordings(1), 15, 0.3)
    # Every program runs with umask 027: nothing it makes is readable by other users.
    for name, (_, pid) in install.status().items():
        umask = next(ln.split()[1] for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                     if ln.startswith("Umask:"))
        assert umask == "0027", (name, umask)
    # supervisord opens its own log before its umask applies: the streamer takes the rest off.
    for log_file in (install.root / "logs").iterdir():
        assert stat.S_IMODE(log_file.stat().st_mode) & 0o007 == 0, log_file

    kills: list[tuple[str, float]] = []
    for name in ("capture_cam0", "capture_cam1", "rec_cam0", "rec_cam1"):
        old_pid = install.status()[name][1]
        t_kill = time.time()
        kill9(old_pid)
        kills.append((name, t_kill))
        wait_until(lambda name=name, old_pid=old_pid: install.status().get(name, ("", 0))[0] == "RUNNING"
                   and install.status()[name][1] != old_pid, HEAL_S, 0.1)
        if name.startswith("capture"):
            # The open stream resumes by itself: the viewer does not reconnect.
            wait_until(lambda t_kill=t_kill: fresh_part_after(viewer, t_kill + 0.1), HEAL_S, 0.05)
            assert not viewer.error, f"the stream was closed by a capture restart: {viewer.error}"
        time.sleep(1.0)

    # The streamer: the open stream ends; a new connection gets a picture taken after the kill.
    old_pid = install.status()["streamer"][1]
    kill9(old_pid)
    t_kill = time.time()

    def reconnects() -> bool:
        try:
            status, parts = read_parts(f"http://127.0.0.1:{install.port}/stream?view=dual&res=480p", 1, timeout=2)
        except httpx.HTTPError:
            return False
        return status == 200 and float(parts[0].headers["x-timestamp"]) > t_kill
    wait_until(reconnects, HEAL_S, 0.1)
    viewer.stop(0.1)

    # Every child at once.
    states = wait_until(install.all_running, 5, 0.1)
    pids = [pid for _, pid in states.values()]
    t_kill = time.time()
    for pid in pids:
        kill9(pid)
    wait_until(lambda: (st := install.all_running()) and not {p for _, p in st.values()} & set(pids), HEAL_S, 0.1)
    wait_until(reconnects, HEAL_S, 0.2)
    time.sleep(5)  # a full segment after the restart

    install.ctl("stop", "all")
    wait_until(lambda: all(state in ("STOPPED", "EXITED") for state, _ in install.status().values()), 10, 0.2)
    assert glob.glob(f"/dev/shm/{install.prefix}*") == [], "stop all left shared memory behind"
    killed = [line for line in (install.root / "logs" / "supervisord.log").read_text().splitlines()
              if "with SIGKILL" in line and "killing" in line]
    assert not killed, f"a program did not stop on SIGTERM within its stopwaitsecs: {killed}"
    for pid in [p for _, p in install.status().values()]:
        assert pid == 0

    for camera in (0, 1):
        files = install.recordings(camera)
        assert len(files) >= 4, f"camera {camera}: too few recordings: {files}"
        assert not list(install.root.glob(f"videos/cam_rec/cam{camera}/*/.*.part"))
        covered = sum(playable(f) for f in files)
        span = start_time(files[-1]) + playable(files[-1]) - start_time(files[0])
        # Frames may be lost only around the moments a process of this camera was killed.
        own_kills = 1 + sum(1 for name, _ in kills if name.endswith(f"cam{camera}"))
        assert covered >= span - 3.0 * own_kills - 2.0, (camera, covered, span)


def test_failing_camera_leaves_the_rest_running(tmp_path: Path) -> None:
    inst = make_install(tmp_path, '\n[camera]\nsources = ["synthetic", "v4l2"]\n'
                                  'v4l2_devices = ["/dev/video90", "/dev/video91"]\n')
    try:
        start_daemon(inst)
        wait_until(lambda: all(inst.status().get(n, ("",))[0] == "RUNNING"
                               for n in ("capture_cam0", "rec_cam0", "rec_cam1", "streamer")), 15, 0.3)

        def read_status() -> dict | None:
            try:
                return httpx.get(f"http://127.0.0.1:{inst.port}/api/status", timeout=2).json()
            except httpx.HTTPError:
                return None  # the streamer is RUNNING for supervisord before it listens
        status = wait_until(lambda: (st := read_status()) and st["cameras"]["0"]["live"] and st, 15, 0.3)
        assert status["cameras"]["1"]["live"] is False
        assert httpx.head(f"http://127.0.0.1:{inst.port}/stream?view=0", timeout=2).status_code == 200
        assert httpx.head(f"http://127.0.0.1:{inst.port}/stream?view=1", timeout=2).status_code == 503
        code, parts = read_parts(f"http://127.0.0.1:{inst.port}/stream?view=0&res=480p", 10)
        assert code == 200 and parts[-1].headers["x-timestamp"] != parts[0].headers["x-timestamp"]
        wait_until(lambda: inst.recordings(0), 15, 0.3)
        assert inst.recordings(1) == []
        log = (inst.root / "logs" / "capture_cam1.log").read_text()
        assert "/dev/video91" in log
    finally:
        stop_daemon(inst)
