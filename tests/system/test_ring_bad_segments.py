"""The streamer and a recorder run beside a zero-size ring: they answer 503/200 as usual."""

from __future__ import annotations

import httpx

from common.ipc.names import ring_name
from tests.support.shm import make_segment


def test_streamer_and_recorder_live_beside_a_zero_size_ring(procs, sht_env) -> None:
    prefix = sht_env["SHT__RING__PREFIX"]
    for stream in ("hd", "sd"):
        make_segment("/" + ring_name(prefix, 1, stream).lstrip("/"), 0)
    procs.capture(0)
    rec = procs.start("rec1", "-m", "recorder", "--camera", "1")
    procs.start_streamer()
    url = f"http://127.0.0.1:{sht_env['SHT__STREAMER__PORT']}"
    assert httpx.head(url + "/stream?view=1", timeout=10).status_code == 503
    assert httpx.head(url + "/stream?view=dual", timeout=10).status_code == 200
    r = httpx.get(url + "/api/status", timeout=10)
    assert r.status_code == 200, r.text[:300]
    assert "too small" in (r.json()["cameras"]["1"]["error"] or "")
    assert httpx.get(url + "/api/recording/status", timeout=10).status_code == 200
    assert rec.poll() is None, procs.log("rec1")[-2000:]
    assert "Traceback" not in procs.log("rec1") + procs.log("streamer")
