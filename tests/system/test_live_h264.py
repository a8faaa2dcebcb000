"""``GET /live/{camera}.mp4`` against real capture, recorder and streamer processes."""
from __future__ import annotations

import io
import socket
import time

import av
import httpx
import pytest

from streamer.live.h264.fmp4 import TIMESCALE
from tests.support.live_client import Frag, client, frags
from tests.support.procs import Procs, isolated_env, wait_until


@pytest.fixture(scope="module")
def live_system(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("live")
    # The street scene and the old, heavier settings (about 1.3 Mbit/s; the defaults take a third
    # of that): 4 s of it are more than a stalled reader's buffers hold, so skipping shows.
    env = isolated_env(tmp / "sht", recorder__segment_seconds=2, streamer__max_h264_clients=1, ring__slots=32,
                       recorder__preset="ultrafast", recorder__crf=23, recorder__max_bitrate_kbps=0,
                       camera__synthetic_scene="street")
    procs = Procs(env, tmp / "logs")
    try:
        procs.capture(0)
        procs.start("recorder0", "-m", "recorder", "--camera", "0")
        procs.start_streamer()
        base = f"http://127.0.0.1:{env['SHT__STREAMER__PORT']}"
        yield env, procs, base
    finally:
        procs.close()


def _read(base: str, count: int, source: str = "127.0.0.1") -> tuple[httpx.Response, bytes, list[Frag]]:
    """Open /live/0.mp4, read its init segment and ``count`` fragments."""
    raw, got = bytearray(), []
    with client(source, 15) as c, c.stream("GET", base + "/live/0.mp4") as r:
        if r.status_code != 200:
            r.read()
            return r, b"", []

        def chunks():
            for chunk in r.iter_raw():
                raw.extend(chunk)
                yield chunk
        for item in frags(chunks()):
            if isinstance(item, Frag):
                got.append(item)
                if len(got) >= count:
                    break
        return r, bytes(raw), got


def test_stream_starts_at_a_keyframe_and_decodes_at_720p(live_system) -> None:
    _env, _procs, base = live_system
    r, raw, got = _read(base, 45)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4" and r.headers["x-codec"].startswith("avc1.")
    assert raw[4:8] == b"ftyp" and got[0].keyframe
    epoch = float(r.headers["x-capture-epoch-ms"])
    assert abs(got[-1].latency_ms(epoch)) < 2000
    times = [f.decode_time for f in got]
    assert times == sorted(times) and len(set(times)) == len(times)
    with av.open(io.BytesIO(raw)) as container:
        decoded = list(container.decode(container.streams.video[0]))
    assert len(decoded) >= 45 and (decoded[0].width, decoded[0].height) == (1280, 720)
    # About 30 fragments a second, and far fewer bytes than MJPEG (about 107 KB per 720p frame).
    assert sum(f.size for f in got) / len(got) < 40_000


def test_second_address_refused_with_423_and_bad_camera_400(live_system) -> None:
    _env, _procs, base = live_system
    with client("127.0.0.1", 15) as c, c.stream("GET", base + "/live/0.mp4") as held:
        assert held.status_code == 200
        chunks = held.iter_raw()   # kept: a dropped iterator would close the connection
        next(chunks)
        other = client("127.0.0.2").get(base + "/live/0.mp4")
        assert other.status_code == 423 and other.headers["retry-after"] == "2"
        body = other.json()
        assert body["error"] == "viewer limit reached" and body["limit"] == 1 and body["res"] == "h264"
        assert body["setting"] == "streamer.max_h264_clients" and body["holders"] == 1
        rows = httpx.get(base + "/api/status", timeout=10).json()["low_data_viewers"]
        assert [(r["address"], r["view"]) for r in rows] == [("127.0.0.1", "0")]
    wait_until(lambda: _read(base, 1, "127.0.0.2")[0].status_code == 200, 10, interval=0.3)
    bad = httpx.get(base + "/live/7.mp4", timeout=10)
    assert bad.status_code == 400 and "allowed values" in bad.json()["error"]


def test_reader_that_stops_skips_to_a_keyframe_instead_of_buffering(live_system) -> None:
    env, _procs, _base = live_system
    port = int(env["SHT__STREAMER__PORT"])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.bind(("127.0.0.3", 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /live/0.mp4 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 200 " in head.split(b"\r\n")[0]
    epoch = float(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                       if line.lower().startswith(b"x-capture-epoch-ms")))
    time.sleep(4.0)   # not reading (less than STALL_S): 4 s of video would be about 600 KB
    s.settimeout(10)

    def chunks():
        while True:
            data = s.recv(65536)
            if not data:
                return
            yield data
    stale, fresh, skipped_to, skipped_s, last = 0, None, None, 0.0, None
    body = chunks()
    # Chunked transfer encoding wraps the body: strip it on the fly.
    for item in frags(_dechunk(body)):
        if isinstance(item, Frag):
            if last is not None and item.decode_time - last.decode_time > TIMESCALE // 2 and skipped_to is None:
                skipped_to, skipped_s = item, (item.decode_time - last.decode_time) / TIMESCALE
            if skipped_to is None:
                stale += item.size   # what the socket's buffers held while it was not read
            last = item
            if item.latency_ms(epoch) < 500:
                fresh = item
                break
    s.close()
    assert fresh is not None
    # It skipped seconds of video, to a keyframe, instead of receiving everything it missed
    # (4 s at about 1.3 Mbit/s is about 650 KB; only the bounded buffers' worth came).
    assert skipped_to is not None and skipped_to.keyframe and skipped_s >= 1.0, skipped_s
    assert stale < 450_000, stale


def _dechunk(chunks):
    buf = bytearray()
    it = iter(chunks)
    while True:
        while b"\r\n" not in buf:
            buf += next(it)
        line, _, rest = bytes(buf).partition(b"\r\n")
        size = int(line, 16)
        buf = bytearray(rest)
        while len(buf) < size + 2:
            buf += next(it)
        yield bytes(buf[:size])
        del buf[:size + 2]


def test_camera_without_recorder_answers_503_with_the_reason(live_system) -> None:
    _env, _procs, base = live_system
    t0 = time.monotonic()
    r = httpx.get(base + "/live/1.mp4", timeout=15)
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    body = r.json()
    assert body["error"] == "no video from camera 1" and "recorder not running" in body["reason"]
    assert time.monotonic() - t0 < 10
    # Its slot was given back at once.
    assert httpx.get(base + "/api/status", timeout=10).json()["low_data_viewers"] == []
