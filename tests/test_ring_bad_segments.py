"""A zero-size, tiny, foreign or permission-denied segment under a ring's name reads as
"no writer yet": readers log, retry, and the streamer answers 503/200 as usual."""
from __future__ import annotations

import os

import httpx
import posix_ipc
import pytest

from common.ipc.frame_reader import RingReader
from common.ipc.frame_writer import RingWriter
from common.ipc.names import ring_name
from tests.support.procs import wait_until


@pytest.fixture
def name(ring_prefix: str) -> str:
    return f"/{ring_prefix}bad"


def make_segment(name: str, size: int, content: bytes = b"") -> None:
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREAT, mode=0o600, size=size)
    if content:
        os.pwrite(shm.fd, content, 0)
    shm.close_fd()


def check_no_writer(reader: RingReader, word: str) -> None:
    for _ in range(3):
        st = reader.status()
        assert not st.attached and not st.writer_alive
        assert reader.next_frame(0.25, newest=False) is None
        assert reader.latest() is None
    assert word in reader.error and reader.name in reader.error


@pytest.mark.parametrize("size,content,word", [
    (0, b"", "too small"),                       # created, not yet sized (a capture restarting)
    (16, b"x" * 16, "too small"),                # tiny foreign segment
    (1 << 16, os.urandom(1 << 16), "magic"),     # foreign contents
])
def test_bad_segment_is_no_writer_yet_and_a_good_one_is_attached(name: str, size: int, content: bytes,
                                                                  word: str) -> None:
    make_segment(name, size, content)
    reader = RingReader(name, stale_seconds=1.0)
    try:
        check_no_writer(reader, word)
        posix_ipc.unlink_shared_memory(name)
        writer = RingWriter(name, 64, 48, 4, 30, "test")
        try:
            writer.begin()
            writer.commit(1, 2)
            wait_until(lambda: reader.next_frame(0.2) is not None, 5)
        finally:
            writer.close(unlink=True)
    finally:
        reader.close()


def test_permission_denied_segment_is_no_writer_yet(name: str, monkeypatch) -> None:
    def denied(*_a, **_k):
        raise posix_ipc.PermissionsError("Permission denied")
    make_segment(name, 0)
    monkeypatch.setattr(posix_ipc, "SharedMemory", denied)
    reader = RingReader(name, stale_seconds=1.0)
    try:
        check_no_writer(reader, "Permission denied")
    finally:
        reader.close()


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
