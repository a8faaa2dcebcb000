"""``GET /api/health`` against a recorder that records, is paused, is starved (no capture)
and is stopped; gaps carry their cause."""
from __future__ import annotations

import signal

import httpx

from tests.support.procs import Procs, isolated_env, wait_until

SEG_S = 2


def get_health(env: dict[str, str]) -> dict:
    r = httpx.get(f"http://127.0.0.1:{env['SHT__STREAMER__PORT']}/api/health", timeout=10)
    assert r.status_code == 200, r.text[:300]
    return r.json()


def cam0(env: dict[str, str]) -> dict:
    return get_health(env)["cameras"]["0"]


def test_health_follows_recording_paused_starved_and_stopped(tmp_path) -> None:
    env = isolated_env(tmp_path / "sht", camera__count=1, recorder__segment_seconds=SEG_S, ring__slots=32)
    url = f"http://127.0.0.1:{env['SHT__STREAMER__PORT']}"
    procs = Procs(env, tmp_path / "logs")
    try:
        procs.capture(0)
        procs.start("rec0", "-m", "recorder", "--camera", "0")
        procs.start("streamer", "-m", "streamer")
        # recording: a fresh segment, nothing failing
        wait_until(lambda: _try(lambda: cam0(env)["segments_24h"] >= 2), 40)
        h = get_health(env)
        c = h["cameras"]["0"]
        assert c["recorder"] == "recording" and c["status"] != "failing", h
        assert c["last_segment"]["age_s"] <= 2 * SEG_S and c["frames_dropped_today"] is not None
        assert h["disk"]["free_bytes"] > 0 and h["disk"]["days_left"] > 0
        assert c["retention"]["state"] == "ok"

        # paused: a warning that says so, not a failure
        assert httpx.post(url + "/api/recording/stop/0", timeout=10).status_code == 200
        wait_until(lambda: cam0(env)["recorder"] == "paused", 10)
        wait_until(lambda: (c := cam0(env))["last_segment"]["age_s"] > 2 * SEG_S + 1 and c, 20)
        h = get_health(env)
        assert h["cameras"]["0"]["status"] == "warning" and h["status"] == "warning", h
        assert any("paused" in r for r in h["reasons"])
        assert httpx.post(url + "/api/recording/start/0", timeout=10).status_code == 200
        gaps = wait_until(lambda: cam0(env)["gaps_24h"], 20)
        assert gaps[-1]["cause"] == "paused by 127.0.0.1", gaps
        wait_until(lambda: cam0(env)["status"] != "failing", 20)

        # starved: the capture process is gone; after two segment lengths the camera fails
        procs.stop("capture0", signal.SIGKILL)
        # (the camera fails at once for its lost signal, and again once no segment has finished)
        h = wait_until(lambda: (h := get_health(env))["status"] == "failing" and h, 10)
        assert h["cameras"]["0"]["capture"]["state"] == "no signal", h
        h = wait_until(lambda: (h := get_health(env))["status"] == "failing"
                       and "no segment finished" in " ".join(h["reasons"]) and h, 6 * SEG_S + 10)
        c = h["cameras"]["0"]
        assert c["recorder"] in ("waiting", "recording"), h

        # stopped: the recorder is not running
        procs.capture(0)
        wait_until(lambda: cam0(env)["status"] != "failing", 30)
        procs.stop("rec0")
        h = wait_until(lambda: (h := get_health(env))["cameras"]["0"]["recorder"] == "not running" and h, 15)
        h = wait_until(lambda: (h := get_health(env))["status"] == "failing" and h, 4 * SEG_S + 10)
        assert h["cameras"]["0"]["status"] == "failing"
        procs.start("rec0", "-m", "recorder", "--camera", "0")
        gaps = wait_until(lambda: [g for g in cam0(env)["gaps_24h"] if g["cause"] == "recorder restarted"], 30)
        # the recordings timeline shows the same causes
        day = httpx.get(url + "/api/recordings?camera=0", timeout=10).json()
        assert any(g.get("cause") == "recorder restarted" for g in day["gaps"]), day["gaps"]
        assert any(g.get("cause", "").startswith("paused") for g in day["gaps"]), day["gaps"]
    finally:
        procs.close()


def _try(fn):
    try:
        return fn()
    except (httpx.HTTPError, KeyError, TypeError):
        return False
