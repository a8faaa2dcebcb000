"""``python -m motion`` as a process: events from a real capture's ring, kill -9, clean stop."""
from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.archive import events as store
from common.state.board import StatusBoard
from tests.support.procs import Procs, isolated_env, status_board, wait_until


@pytest.fixture
def motion_sys(tmp_path: Path) -> Iterator[tuple[Procs, Path, StatusBoard]]:
    # post_seconds = 60: an event, once started, stays open for the whole test.
    env = isolated_env(tmp_path / "sht", camera__count=1, camera__synthetic_motion_every=10,
                       motion__post_seconds=60)
    p = Procs(env, tmp_path / "logs")
    try:
        yield p, Path(env["SHT__RECORDER__ROOT"]), status_board(env)
    finally:
        p.close()


def _status(board: StatusBoard) -> dict:
    return board.read("motion") or {}


def _rows(root: Path) -> list[tuple]:
    conn = sqlite3.connect(store.db_path(root))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT id, end_wall, closed, last_wall, start_wall FROM events ORDER BY id").fetchall()
    finally:
        conn.close()


def test_kill_9_leaves_the_database_whole_and_the_restart_closes_the_open_event(motion_sys) -> None:
    procs, root, board = motion_sys
    procs.capture(0)
    procs.start("motion", "-m", "motion")
    # The figure crosses every 10 s: within 15 s an event is open (and, post_seconds = 60, stays open).
    wait_until(lambda: _status(board).get("cameras", {}).get("0", {}).get("open"), 20, 0.1)
    time.sleep(1.5)  # the open event's progress has been published at least once
    published = _status(board)["cameras"]["0"]["progress"]
    procs.kill("motion")
    rows = _rows(root)
    assert len(rows) == 1 and rows[0][1] is None, rows    # open when killed
    killed_at = time.time()

    procs.start("motion", "-m", "motion")
    wait_until(lambda: _rows(root)[0][1] is not None, 10, 0.1)
    _eid, end_wall, closed, last_wall, start_wall = _rows(root)[0]
    assert closed == "restart" and end_wall == last_wall and start_wall < end_wall <= killed_at
    # The database had only the event's start: its progress came from the status in memory.
    assert end_wall >= published["last_wall"]
    assert "closed 1 event(s) left open" in procs.log("motion")
    # Detection goes on: the next crossing opens a new event.
    wait_until(lambda: len(_rows(root)) >= 2, 20, 0.2)

    assert procs.stop("motion") == 0       # SIGTERM: the open event is closed as "stop"
    rows = _rows(root)
    assert all(r[1] is not None for r in rows) and rows[-1][2] == "stop"
    assert _status(board)["pid"] == 0 and _status(board)["cameras"]["0"]["open"] is False


def test_disabled_motion_idles_until_stopped(tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "sht", motion__enabled=False)
    procs = Procs(env, tmp_path / "logs")
    try:
        proc = procs.start("motion", "-m", "motion")
        wait_until(lambda: "motion.enabled = false" in procs.log("motion"), 10, 0.1)
        assert proc.poll() is None   # no exit for the supervisor to restart in a loop
        assert procs.stop("motion", signal.SIGTERM) == 0
        assert not store.db_path(Path(env["SHT__RECORDER__ROOT"])).exists()
    finally:
        procs.close()


def test_bad_motion_setting_exits_2_naming_the_key(tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "sht", motion__sensitivity=0)
    procs = Procs(env, tmp_path / "logs")
    try:
        proc = procs.start("motion", "-m", "motion")
        assert proc.wait(20) == 2
        assert "motion.sensitivity = 0" in procs.log("motion")
    finally:
        procs.close()


def test_a_damaged_database_is_moved_aside_and_a_new_one_started(tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "sht")
    root = Path(env["SHT__RECORDER__ROOT"])
    root.mkdir(parents=True)
    store.db_path(root).write_bytes(b"not a database at all " * 500)
    procs = Procs(env, tmp_path / "logs")
    try:
        procs.start("motion", "-m", "motion")
        wait_until(lambda: "new database started" in procs.log("motion"), 15, 0.1)
        wait_until(lambda: _status(status_board(env)).get("pid"), 10, 0.1)
        assert procs.running["motion"].poll() is None
        assert [p.name for p in root.glob("events.sqlite.damaged-*")]
        assert _rows(root) == []   # the new database is sound and empty
        assert procs.stop("motion") == 0
    finally:
        procs.close()
