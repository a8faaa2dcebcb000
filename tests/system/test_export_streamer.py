"""Exports from a real streamer: a client that stops reading holds up the export (no memory
grows), a client that goes away or a streamer killed mid-export leaves nothing behind (no file,
no slot held), and the next export from the same address goes ahead."""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from recorder.segments.writer import MUX_OPTIONS
from tests.support.mp4_files import segment_path
from tests.support.procs import Procs, isolated_env, wait_until

T0 = datetime(2026, 12, 4, 14, 0, 0)
SEGMENTS = 20                                  # ten minutes of 30 s segments
QUERY = "/api/export?camera=0&from=2026-12-04T14:00:00&to=2026-12-04T14:10:00"


def _noisy_segment(path: Path, seconds: int = 30, fps: int = 10) -> None:
    """A segment that does not compress (random pictures): megabytes, so an export of a few
    of them is more than the sockets' buffers hold."""
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", format="mp4",
                 options=MUX_OPTIONS) as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": str(fps), "crf": "18"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (360, 320), np.uint8), format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Procs, dict[str, str], Path]]:
    tmp = tmp_path_factory.mktemp("export-streamer")
    env = isolated_env(tmp / "sht", camera__count=1, streamer__host="127.0.0.1")
    env["TMPDIR"] = str(tmp / "tmpdir")
    (tmp / "tmpdir").mkdir()
    root = Path(env["SHT__RECORDER__ROOT"])
    first = segment_path(root, 0, T0)
    _noisy_segment(first)
    for k in range(1, SEGMENTS):
        os.link(first, segment_path(root, 0, T0 + timedelta(seconds=30 * k)))
    procs = Procs(env, tmp / "logs")
    try:
        yield procs, env, tmp
    finally:
        procs.close()


def _start(procs: Procs, env: dict[str, str]) -> str:
    procs.start("streamer", "-m", "streamer")
    base = f"http://127.0.0.1:{env['SHT__STREAMER__PORT']}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/api/config", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False
    wait_until(up, 40, interval=0.2)
    return base


def _files(tmp: Path) -> dict[str, int]:
    return {str(p.relative_to(tmp)): p.stat().st_size for p in tmp.rglob("*") if p.is_file() and "logs" not in p.parts}


def _begin_export(env: dict[str, str]) -> socket.socket:
    """An export whose client reads its first bytes and then nothing more."""
    s = socket.create_connection(("127.0.0.1", int(env["SHT__STREAMER__PORT"])), timeout=30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(f"GET {QUERY} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = s.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return s


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the streamer's workers)."""
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    except OSError:
        return total
    return total + sum(_rss_mb(int(c)) for c in children)


def _nice_values(pid: int) -> list[int]:
    """The nice value of each thread of a process (field 19 of its stat)."""
    values = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            values.append(int((task / "stat").read_text().rsplit(")", 1)[1].split()[16]))
        except (OSError, IndexError, ValueError):
            continue   # the thread ended meanwhile
    return values


def _export_goes_ahead(base: str) -> bool:
    with httpx.stream("GET", base + QUERY, timeout=30) as r:
        if r.status_code != 200:
            return False
        next(r.iter_bytes())
        return True


def test_a_streamer_killed_mid_export_leaves_nothing_behind(system) -> None:
    procs, env, tmp = system
    base = _start(procs, env)
    before = _files(tmp)
    pid = procs.running["streamer"].pid
    idle_mb = _rss_mb(pid)
    client = _begin_export(env)
    try:
        # The client reads nothing more: the export waits for it, holding a fragment or two,
        # instead of making the rest (hundreds of MB) into memory.
        time.sleep(3.0)
        assert _rss_mb(pid) - idle_mb < 40, (idle_mb, _rss_mb(pid))
        # Every thread, the export's among them, runs below the recorders' priority.
        assert min(_nice_values(pid)) >= 10, _nice_values(pid)
        with httpx.Client(timeout=10) as c:
            busy = c.get(base + QUERY)
        assert busy.status_code == 429 and busy.json()["reason"] == "per_address"
        procs.kill("streamer")
    finally:
        client.close()
    new = {name: size for name, size in _files(tmp).items()
           if before.get(name) != size and not Path(name).name.startswith("recordings.sqlite")}  # the index, built
    # What an export leaves: its slot's lock files (a few bytes), the audit line's status, and
    # the audit log with its lock.
    assert new and all(Path(name).name.startswith(("export", "status-", "audit.")) and size < 4096
                       for name, size in new.items()), new
    assert not os.listdir(tmp / "tmpdir")
    base = _start(procs, env)
    assert _export_goes_ahead(base), "the killed streamer's slot is free again"
    procs.stop("streamer")


def test_a_client_that_goes_away_gives_its_slot_back(system) -> None:
    procs, env, _ = system
    base = _start(procs, env)
    try:
        client = _begin_export(env)
        client.close()
        wait_until(lambda: _export_goes_ahead(base), 20, interval=0.5)
        assert "export of cam0_20261204_140000-141000.mp4 stopped (the client went away" in procs.log("streamer")
    finally:
        procs.stop("streamer")
