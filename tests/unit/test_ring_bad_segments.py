"""A zero-size, tiny, foreign or permission-denied segment under a ring's name reads as
"no writer yet": readers log and retry."""

from __future__ import annotations

import os

import posix_ipc
import pytest

from common.ipc.frame_reader import RingReader
from common.ipc.frame_writer import RingWriter
from tests.support.procs import wait_until
from tests.support.shm import make_segment


@pytest.fixture
def name(ring_prefix: str) -> str:
    return f"/{ring_prefix}bad"


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
