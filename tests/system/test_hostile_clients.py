"""Clients that try to exhaust the streamer: idle and slow connections, stream and snapshot
floods, and a shared-memory segment planted under the camera's ring name."""
from __future__ import annotations

import os
import resource
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import posix_ipc
import pytest

from common.ipc.names import ring_name
from tests.support.procs import wait_until
from tests.support.security_rig import SecureSystem, raw_request
from tests.support.streamer_client import HeldStreams, Reader

IDLE_SOCKETS = 1100
FLOOD_S = 20.0


def raise_fd_limit(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= want, "the test needs more file descriptors"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureSystem]:
    with SecureSystem(tmp_path_factory.mktemp("hostile")) as sysm:
        yield sysm.start(recorders=(0, 1))


def open_idle(port: int, count: int, sources: list[str]) -> list[socket.socket]:
    socks = []
    for i in range(count):
        s = socket.socket()
        s.bind((sources[i % len(sources)], 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def closed_by_peer(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        while s.recv(65536):
            pass     # an answer first (a refusal over the per-address cap), then the end
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def fps(reader: Reader, seconds: float) -> float:
    t0 = time.monotonic()
    time.sleep(seconds)
    return reader.rate(t0)


def test_idle_sockets_do_not_lock_out_viewers(system: SecureSystem) -> None:
    raise_fd_limit(IDLE_SOCKETS + 512)
    viewers = [Reader(f"{system.origin}/stream?view=dual&res=480p", source=src).start()
               for src in ("127.0.0.20", "127.0.0.21")]
    socks: list[socket.socket] = []
    try:
        for v in viewers:
            assert v.opened.wait(10) and v.status == 200
        t_open = time.monotonic()
        socks = open_idle(system.port, IDLE_SOCKETS, [f"127.0.0.{n}" for n in range(30, 40)])
        # Half of them also start a request head and never finish it (slowloris).
        for s in socks[::2]:
            s.sendall(b"GET /api/status HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        opened_s = time.monotonic() - t_open
        t0 = time.monotonic()
        r = system.get("/api/status", source="127.0.0.2", timeout=2)
        took = time.monotonic() - t0
        assert r.status_code == 200 and took < 2.0
        rates = [fps(viewers[0], 4.0), viewers[1].rate(time.monotonic() - 4.0)]
        assert min(rates) >= 27, rates
        # Ten seconds without a complete request head: the streamer closes them all.
        wait_until(lambda: all(closed_by_peer(s) for s in socks), 20, interval=0.5)
        closed_after = time.monotonic() - t_open
        assert closed_after >= 9.5
        print(f"\n{IDLE_SOCKETS} idle sockets opened in {opened_s:.2f} s; /api/status answered in "
              f"{took * 1000:.0f} ms; viewers at {rates[0]:.1f} and {rates[1]:.1f} fps; "
              f"all closed by the server {closed_after:.1f} s after opening")
        assert all(v.parts > 0 and not v.error for v in viewers)
    finally:
        for s in socks:
            s.close()
        for v in viewers:
            v.stop()


def test_one_address_cannot_take_every_stream(system: SecureSystem) -> None:
    streams = HeldStreams(system.port)
    try:
        codes = Counter(streams.open("/stream?view=0&res=480p", "127.0.0.5")[0] for _ in range(300))
        assert codes == {200: 4, 429: 296}, codes
        r = system.get("/stream?view=0&res=480p", source="127.0.0.5", method="GET",
                       headers={"Connection": "close"})
        assert r.status_code == 429 and r.json()["setting"] == "security.max_streams_per_address"
        code, body = 0, b""
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.6"), timeout=10) as c, \
                c.stream("GET", f"{system.origin}/stream?view=dual&res=720p") as resp:
            code = resp.status_code
            for chunk in resp.iter_raw():
                body += chunk
                if len(body) > 20000:
                    break
        assert code == 200 and b"image/jpeg" in body
    finally:
        streams.close()


def test_connection_cap_answers_503(tmp_path: Path) -> None:
    sysm = SecureSystem(tmp_path, cameras=(0,), streamer__max_connections=16)
    socks: list[socket.socket] = []
    try:
        sysm.start()
        time.sleep(6)  # the start-up probes' keep-alive connections have closed
        socks = open_idle(sysm.port, 16, [f"127.0.0.{n}" for n in range(2, 6)])   # 4 a piece: the per-address cap
        time.sleep(0.3)
        answer = raw_request(sysm.port, b"GET /api/status HTTP/1.1\r\nHost: localhost\r\n\r\n", source="127.0.0.3")
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        assert b"too many open connections" in answer
        for s in socks:
            s.close()
        socks = []
        wait_until(lambda: sysm.get("/api/status", headers={"Connection": "close"}).status_code == 200, 5)
    finally:
        for s in socks:
            s.close()
        sysm.close()


def test_snapshot_flood(system: SecureSystem) -> None:
    """8 clients asking for snapshots as fast as they can for 20 s: recording and live view go on."""
    def dropped() -> dict[str, int]:
        recs = system.get("/api/status").json()["recorders"]
        return {cam: recs[cam]["frames_dropped"] for cam in ("0", "1")}
    wait_until(lambda: all((d or {}).get("state") == "recording"
                           for d in system.get("/api/status").json()["recorders"].values()), 30, interval=0.3)
    before = dropped()
    viewers = [Reader(f"{system.origin}/stream?view=dual&res=480p", source=src).start()
               for src in ("127.0.0.20", "127.0.0.21")]
    stop = threading.Event()
    counts: dict[int, int] = {}
    lock = threading.Lock()

    def flood(n: int) -> None:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=f"127.0.0.{50 + n}"),
                          base_url=system.origin, timeout=10) as c:
            while not stop.is_set():
                view = ("0", "1", "dual")[n % 3]
                code = c.get(f"/snapshot?view={view}&res=720p").status_code
                with lock:
                    counts[code] = counts.get(code, 0) + 1
    threads = [threading.Thread(target=flood, args=(n,), daemon=True) for n in range(8)]
    try:
        for v in viewers:
            assert v.opened.wait(10) and v.status == 200
        time.sleep(1.0)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(FLOOD_S)
        rates = [v.rate(t0) for v in viewers]
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        for v in viewers:
            v.stop()
    after = dropped()
    print(f"\nsnapshot flood {FLOOD_S:g} s: answers {dict(sorted(counts.items()))}; viewers "
          f"{rates[0]:.1f} / {rates[1]:.1f} fps; recorder drops {before} -> {after}")
    assert set(counts) <= {200, 429} and counts.get(200, 0) > 0 and counts.get(429, 0) > 0
    assert after == before
    assert min(rates) >= 27, rates


def test_a_slow_request_head_is_cut_off(system: SecureSystem) -> None:
    s = socket.create_connection(("127.0.0.1", system.port), source_address=("127.0.0.7", 0))
    try:
        t0 = time.monotonic()
        closed = False
        for piece in (b"GET /api/status HTTP/1.1\r\n", b"Host: localhost\r\n", *[b"X-A: b\r\n"] * 30):
            try:
                s.sendall(piece)
            except OSError:
                closed = True
                break
            time.sleep(0.5)
            if closed_by_peer(s):
                closed = True
                break
            s.setblocking(True)
        took = time.monotonic() - t0
        assert closed and 9.5 <= took <= 12.5, took
    finally:
        s.close()


def test_a_foreign_segment_is_refused(tmp_path: Path) -> None:
    """A segment under camera 1's ring names that another user owns: refused, logged once."""
    sysm = SecureSystem(tmp_path, cameras=(0,))
    names = [ring_name(sysm.env["SHT__RING__PREFIX"], 1, stream) for stream in ("sd", "hd")]
    for name in names:
        shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=1 << 20)
        os.fchown(shm.fd, 65534, 65534)
        shm.close_fd()
    try:
        sysm.start()
        cam1 = sysm.get("/api/status").json()["cameras"]["1"]
        assert "refused" in cam1["error"] and "65534" in cam1["error"]
        assert sysm.get("/stream?view=1&res=480p", method="HEAD").status_code == 503
        snap = sysm.get("/snapshot?view=1")   # the NO SIGNAL picture: nothing of the segment is shown
        assert snap.status_code == 200 and snap.headers["x-cameras-live"] == ""
        time.sleep(2.0)
        assert sysm.procs.running["streamer"].poll() is None
        sd_lines = [ln for ln in sysm.log().splitlines() if "refused, the segment belongs to user 65534" in ln
                    and names[0] in ln]
        count = len(sd_lines)
        time.sleep(1.5)
        sd_lines = [ln for ln in sysm.log().splitlines() if "refused, the segment belongs to user 65534" in ln
                    and names[0] in ln]
        assert 1 <= count == len(sd_lines), sd_lines
    finally:
        sysm.close()
        for name in names:
            try:
                posix_ipc.unlink_shared_memory(name)
            except posix_ipc.ExistentialError:
                pass


def test_snapshot_of_a_watched_view_reuses_its_picture(system: SecureSystem) -> None:
    """Snapshots of a view being encoded cost no encode: more of them than the worker's encode
    budget all succeed, and each is a picture the stream carried (same frame index)."""
    viewer = Reader(f"{system.origin}/stream?view=1&res=720p", source="127.0.0.22").start()
    try:
        assert viewer.opened.wait(10) and viewer.status == 200
        wait_until(lambda: viewer.parts > 3, 10)
        codes = []
        for n in range(12):   # 12 addresses at once-ish: three times the encode budget
            r = system.get("/snapshot?view=1&res=720p", source=f"127.0.0.{100 + n}")
            codes.append(r.status_code)
            if r.status_code == 200:
                streamed = [p.index for p in viewer.last]
                assert int(r.headers["x-frame-index"]) >= min(streamed) - 2
        assert codes == [200] * 12, codes
        # An unwatched view: made on demand, within the budget.
        codes = [system.get("/snapshot?view=0&res=720p", source=f"127.0.0.{120 + n}").status_code
                 for n in range(12)]
        assert codes.count(200) >= 4 and 429 in codes, codes
    finally:
        viewer.stop()
