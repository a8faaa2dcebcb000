"""One gate for both kinds of live stream, against a real capture, recorder and streamer: the
per-address cap on the low-data view, addresses behind a trusted proxy, MJPEG and low-data
streams counted together, the low-data limit, and the stall rule."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from streamer.live import STALL_S
from tests.support.procs import wait_until
from tests.support.security_rig import SecureSystem
from tests.support.streamer_client import HeldStreams, stalled_viewer

PROXY = "127.0.0.9"
LIVE = "/live/0.mp4"
MJPEG = "/stream?view=0&res=480p"
CAP = 4        # security.max_streams_per_address (its default)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureSystem]:
    with SecureSystem(tmp_path_factory.mktemp("gate"), cameras=(0,), streamer__max_h264_clients=1,
                      security__max_streams_per_address=CAP,
                      security__trusted_proxies=f'["{PROXY}/32"]') as sysm:
        yield sysm.start(recorders=(0,))


def _viewers(system: SecureSystem) -> tuple[list[str], list[str]]:
    """Addresses of the MJPEG and of the low-data viewers, as /api/status gives them."""
    status = system.get("/api/status").json()
    return sorted(v["address"] for v in status["viewers"]), sorted(v["address"] for v in status["low_data_viewers"])


@pytest.fixture
def streams(system: SecureSystem) -> Iterator[HeldStreams]:
    held = HeldStreams(system.port)
    try:
        yield held
    finally:
        held.close()
        # Every slot is given back once the streams close: the next test starts with none.
        wait_until(lambda: _viewers(system) == ([], []), 10, interval=0.1)


def test_one_address_gets_429_past_its_cap_on_the_low_data_view(system: SecureSystem, streams: HeldStreams) -> None:
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: streams.open(LIVE, "127.0.0.2"), range(12)))
    assert Counter(status for status, _ in answers) == {200: CAP, 429: 12 - CAP}
    body = next(body for status, body in answers if status == 429)
    assert body["setting"] == "security.max_streams_per_address" and body["limit"] == CAP
    assert body["res"] == "h264" and body["retry_after_s"] == 2 and "streams open" in body["reason"]
    assert _viewers(system) == ([], ["127.0.0.2"] * CAP)


def test_behind_a_trusted_proxy_each_forwarded_address_counts(system: SecureSystem, streams: HeldStreams) -> None:
    def through_proxy(path: str, client: str) -> tuple[int, dict]:
        return streams.open(path, PROXY, {"X-Forwarded-For": client})

    assert through_proxy(LIVE, "192.168.1.20")[0] == 200
    status, body = through_proxy(LIVE, "192.168.1.21")       # another client: the low-data view is full
    assert status == 423 and body["setting"] == "streamer.max_h264_clients"
    assert (body["res"], body["limit"], body["holders"]) == ("h264", 1, 1)
    # MJPEG alike: two clients of the proxy are two of the two viewers 480p admits.
    assert through_proxy(MJPEG, "192.168.1.20")[0] == 200
    assert through_proxy(MJPEG, "192.168.1.21")[0] == 200
    status, body = through_proxy(MJPEG, "192.168.1.22")
    assert status == 423 and body["setting"] == "streamer.max_clients_per_resolution"
    assert (body["res"], body["limit"], body["holders"]) == ("480p", 2, 2)
    assert _viewers(system) == (["192.168.1.20", "192.168.1.21"], ["192.168.1.20"])


def test_an_address_mjpeg_and_low_data_streams_count_together(system: SecureSystem, streams: HeldStreams) -> None:
    for path in (MJPEG, "/stream?view=0&res=720p", MJPEG):
        assert streams.open(path, "127.0.0.4")[0] == 200, path
    assert streams.open(LIVE, "127.0.0.4")[0] == 200        # the fourth stream of this address
    for path in (LIVE, MJPEG):
        status, body = streams.open(path, "127.0.0.4")
        assert status == 429 and body["setting"] == "security.max_streams_per_address", path
    assert _viewers(system) == (["127.0.0.4"] * 3, ["127.0.0.4"])


def test_a_low_data_viewer_that_stops_reading_is_dropped(system: SecureSystem, streams: HeldStreams) -> None:
    opened = time.monotonic()
    stalled = stalled_viewer(system.port, LIVE, "127.0.0.6")
    try:
        wait_until(lambda: _viewers(system)[1] == ["127.0.0.6"], 10, interval=0.1)
        # Its slot is the only low-data one: another address waits for the stall rule to free it.
        assert streams.open(LIVE, "127.0.0.7")[0] == 423
        wait_until(lambda: _viewers(system)[1] == [], STALL_S + 15, interval=0.1)
        assert time.monotonic() - opened >= STALL_S
        log = system.log()
        assert "h264 viewer 127.0.0.6 (0 h264) stopped reading: dropped" in log
        assert "ERROR" not in log and "Traceback" not in log
        assert streams.open(LIVE, "127.0.0.7")[0] == 200
    finally:
        stalled.close()
