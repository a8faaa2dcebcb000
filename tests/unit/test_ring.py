"""The shared-memory ring: no torn frames, re-attachment, bad segments, ownership, bounds."""
from __future__ import annotations

import ctypes
import gc
import os
import signal
import time

import numpy as np
import posix_ipc
import psutil
import pytest

from common.ipc.frame_layout import HEADER_FIELDS, HEADER_SIZE, STAT_RESET, field_struct
from common.ipc.frame_reader import RingReader
from common.ipc.frame_writer import RingWriter
from common.ipc.segment import RingBusy
from common.meter import RateMeter
from common.video.streams import STREAMS
from tests.support.procs import RingWriters, wait_until
from tests.support.ring_stress import CTX, readers_across_a_writer_restart

W, H = 320, 240


@pytest.fixture
def name(ring_prefix: str) -> str:
    return f"/{ring_prefix}ring"


# -- a frame that carries its own checksum ------------------------------------------------------
def _fill(planes, index: int) -> None:
    y, u, v = planes
    y.fill(index % 251)
    u.fill(index % 241)
    v.fill(index % 239)
    y[0, :8] = np.frombuffer(index.to_bytes(8, "little"), np.uint8)


def _consistent(frame) -> bool:
    """Does the content match the frame's index everywhere?  (Read before ``valid()``.)"""
    y, u, v = frame.y, frame.u, frame.v
    index = int.from_bytes(y[0, :8].tobytes(), "little")
    return bool(index == frame.index and y[1:].min() == y[1:].max() == index % 251
                and u.min() == u.max() == index % 241 and v.min() == v.max() == index % 239
                and (y[0, 8:] == index % 251).all())


def _writer(name: str, seconds: float, slots: int, kill_me: bool) -> None:
    writer = RingWriter(name, W, H, slots, 30, "test", "STRESS", stale_seconds=1.0)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        planes = writer.begin()
        _fill(planes, writer._next_index)
        writer.commit(time.monotonic_ns(), time.time_ns())
    if kill_me:
        os.kill(os.getpid(), signal.SIGKILL)  # dies mid-life, segment left behind
    writer.close()


def _reader(name: str, newest: bool, pause: float, stop, results) -> None:
    """Validates every frame it reads; ``pause`` after each makes it slow enough to be lapped."""
    reader = RingReader(name, stale_seconds=1.0)
    accepted = torn_accepted = torn_caught = rejected = gaps = 0
    incarnations, last = set(), None
    while not stop.is_set():
        frame = reader.next_frame(0.2, newest=newest)
        if frame is None:
            continue
        incarnations.add(frame.incarnation)
        ok = _consistent(frame)
        if not frame.valid():
            rejected += 1  # lapped while reading: dropped, never used
            torn_caught += not ok
            continue
        accepted += 1
        torn_accepted += not ok
        if last is not None and last[0] == frame.incarnation and frame.index > last[1] + 1:
            gaps += frame.index - last[1] - 1
        last = (frame.incarnation, frame.index)
        if pause:
            time.sleep(pause)
    reader.close()
    results.put({"newest": newest, "accepted": accepted, "torn_accepted": torn_accepted,
                 "rejected": rejected, "torn_caught": torn_caught, "gaps": gaps,
                 "incarnations": len(incarnations)})


@pytest.mark.slow
def test_stress_many_readers_no_torn_frames_and_reattach_after_kill(name: str) -> None:
    readers = [(name, True, 0.0)] * 3 + [(name, False, 0.005)]  # the last one slow, lapped
    got = readers_across_a_writer_restart(_writer, (name, 2.0, 3), _reader, readers)
    for r in got:
        assert r["torn_accepted"] == 0, r
        assert r["accepted"] > 20, r
        assert r["incarnations"] == 2, r  # re-attached to the restarted writer by itself
    slow = next(r for r in got if not r["newest"])
    assert slow["gaps"] > 0, slow  # lapped: it misses frames, in order, never a torn one
    # The check does see torn frames (the writer laps readers mid-read), and valid() caught every one.
    assert sum(r["torn_caught"] for r in got) > 0, got


# -- bad segments ---------------------------------------------------------------------------
def _segment(name: str, size: int, header: bytes) -> None:
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREAT, mode=0o600, size=size)
    os.pwrite(shm.fd, header, 0)
    shm.close_fd()


def _put(header: bytearray, field: str, value) -> None:
    field_struct(field).pack_into(header, HEADER_FIELDS[field][0], value)


def test_bad_segment_reported_by_name_and_reader_attaches_once_good(name: str, ring_writer: RingWriters) -> None:
    good = ring_writer(name + "x", W, H)
    header = bytearray(good._mm[:HEADER_SIZE])
    good.close()
    reader = RingReader(name, stale_seconds=1.0)
    try:
        bad = bytearray(header)
        _put(bad, "magic", b"NOTARING")
        _segment(name, len(bad) * 2, bytes(bad))
        wait_until(lambda: "wrong magic" in reader.status().error, 5)
        assert name in reader.status().error and reader.error == reader.status().error
        assert reader.next_frame(0.3) is None  # no exception: it keeps running

        posix_ipc.unlink_shared_memory(name)
        bad = bytearray(header)
        _put(bad, "version", 99)
        _segment(name, len(bad) * 2, bytes(bad))
        wait_until(lambda: "layout version 99" in reader.status().error, 5)
        assert name in reader.error

        posix_ipc.unlink_shared_memory(name)
        _segment(name, HEADER_SIZE + 4096, bytes(header))  # header says 4 slots of 320x240
        wait_until(lambda: "does not match" in reader.status().error, 5)
        assert name in reader.error and not reader.status().attached

        # A writer replaces the broken segment; the reader attaches by itself.
        writer = ring_writer(name, W, H)
        _fill(writer.begin(), 0)
        writer.commit(time.monotonic_ns(), time.time_ns())
        frame = reader.next_frame(5.0)
        assert frame is not None and frame.index == 0 and _consistent(frame) and frame.valid()
        assert reader.status().error == "" and reader.status().attached
        writer.close()
    finally:
        reader.close()


# -- ownership ------------------------------------------------------------------------------
def _write_then_hang(name: str, frames: int, ready) -> None:
    writer = RingWriter(name, W, H, 4, 30, "test")
    for _ in range(frames):
        writer.begin()
        writer.commit(time.monotonic_ns(), time.time_ns())
    ready.set()
    time.sleep(60)


def _try_second_writer(name: str, results) -> None:
    try:
        RingWriter(name, W, H, 4, 30, "test")
        results.put("opened")
    except RingBusy as exc:
        results.put(f"busy: {exc}")


def test_stale_segment_reclaimed_and_live_writer_refused(name: str, ring_writer: RingWriters) -> None:
    ready = CTX.Event()
    dead = CTX.Process(target=_write_then_hang, args=(name, 5, ready))
    dead.start()
    assert ready.wait(20)
    results = CTX.Queue()
    other = CTX.Process(target=_try_second_writer, args=(name, results))
    other.start()
    assert results.get(timeout=20).startswith(f"busy: ring {name} is already written by live process {dead.pid}")
    other.join(10)
    reader = RingReader(name, stale_seconds=2.0)
    old = reader.status().incarnation
    assert reader.status().restarts == 0
    os.kill(dead.pid, signal.SIGKILL)
    dead.join(10)
    writer = ring_writer(name, W, H)
    try:
        assert writer.reclaimed
        writer.begin()
        writer.commit(time.monotonic_ns(), time.time_ns())
        wait_until(lambda: reader.status().incarnation != old, 5)
        st = reader.status()
        assert st.restarts == 1 and st.writer_pid == os.getpid() and st.live()
    finally:
        writer.close()
        reader.close()


def test_writer_death_reported_after_stale_seconds(name: str, ring_writer: RingWriters) -> None:
    ready = CTX.Event()
    hung = CTX.Process(target=_write_then_hang, args=(name, 3, ready))  # alive, but no more frames
    hung.start()
    try:
        assert ready.wait(20)
        reader = RingReader(name, stale_seconds=0.5)
        assert reader.status().writer_alive
        wait_until(lambda: not reader.status().writer_alive, 5)
        st = reader.status()
        assert st.writer_state == "running" and not st.live() and st.frame_age_s >= 0.5
        reader.close()
    finally:
        hung.kill()
        hung.join(10)
    writer = ring_writer(name, W, H)
    reader = RingReader(name, stale_seconds=5.0)
    assert reader.status().writer_alive
    writer.close()  # a clean stop is seen at once, not after stale_seconds
    st = reader.status()
    assert st.writer_state == "gone" and not st.writer_alive
    reader.close()


# -- bounded for 24/7 -----------------------------------------------------------------------
def _publish_and_measure(name: str, results) -> None:
    """Runs in a fresh process, so its RSS is the ring's and the meter's alone: in the pytest
    process, threads of earlier tests free and take memory meanwhile."""
    proc = psutil.Process()
    writer = RingWriter(name, *STREAMS["sd"], 4, 30, "test")
    reader = RingReader(name)
    meter = RateMeter(window=2.0, max_events=120)

    def publish(count: int) -> None:
        for _ in range(count):
            writer.begin()
            writer.commit(time.monotonic_ns(), time.time_ns())
            meter.add()
        writer.set_stats(meter.rate(), 0)

    def settled_rss() -> int:
        gc.collect()
        ctypes.CDLL(None).malloc_trim(0)
        return int(proc.memory_info().rss)

    try:
        publish(2000)
        rss_before = settled_rss()
        publish(STAT_RESET)
        rss_after = settled_rss()
        st = reader.status()
        frame = reader.latest()
        results.put({"rss_before": rss_before, "rss_after": rss_after, "last_index": st.last_index,
                     "frames": st.frames, "meter_events": len(meter._events),
                     "latest_ok": frame is not None and frame.index == st.last_index and frame.valid()})
    finally:
        reader.close()
        writer.close()


def test_memory_flat_and_counters_reset_over_100k_frames(name: str) -> None:
    results = CTX.Queue()
    child = CTX.Process(target=_publish_and_measure, args=(name, results))
    child.start()
    try:
        got = results.get(timeout=120)
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
    assert got["rss_after"] - got["rss_before"] < 1_000_000, got
    assert got["last_index"] == STAT_RESET + 2000 - 1
    assert got["frames"] == 2000  # statistics counter restarted at 100,000
    assert got["meter_events"] <= 120
    assert got["latest_ok"]
