"""A running system beside corrupt shared state files: no process crashes and no route answers 5xx."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.support.bad_json import BAD
from tests.support.procs import status_board, wait_until


def test_streamer_answers_with_corrupt_state(procs, sht_env) -> None:
    """Bad controls, status and viewer files before the streamer starts: every route answers < 500."""
    run = Path(sht_env["SHT__PATHS__RUN_DIR"])
    run.mkdir(parents=True, exist_ok=True)
    (run / "controls.json").write_bytes(BAD["invalid_utf8"])
    board = status_board(sht_env)
    for where in (board.kept_path, board.memory_path):   # kept by a stopped recorder, and in memory
        where("recorder-cam0").write_bytes(BAD["truncated"])
        where("recorder-cam1").mkdir()
    table = Path("/dev/shm") / f"{sht_env['SHT__RING__PREFIX']}streamer-viewers.json"
    table.write_bytes(BAD["garbage"])
    procs.capture(0)
    rec = procs.start("rec0", "-m", "recorder", "--camera", "0")
    wait_until(lambda: (board.read("recorder-cam0") or {}).get("state") == "recording", 30)
    assert rec.poll() is None
    url = f"http://127.0.0.1:{sht_env['SHT__STREAMER__PORT']}"
    try:
        procs.start_streamer()
        for path in ("/api/status", "/api/stats", "/api/recording/status", "/snapshot?view=0"):
            r = httpx.get(url + path, timeout=10)
            assert r.status_code < 500, (path, r.status_code, r.text[:200])
        assert httpx.head(url + "/stream", timeout=10).status_code in (200, 503)
        assert httpx.post(url + "/api/recording/stop/1", timeout=10).status_code == 200
        assert json.loads((run / "controls.json").read_text())["recording"]["1"] is False
        with httpx.stream("GET", url + "/stream?view=0&res=480p", timeout=10) as r:
            assert r.status_code == 200
        assert "Traceback" not in procs.log("streamer") + procs.log("rec0")
    finally:
        table.unlink(missing_ok=True)
        board.memory_path("recorder-cam1").rmdir()   # a folder: the rings' clean-up removes files only
