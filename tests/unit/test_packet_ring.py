"""The H.264 packet ring: no torn packets, in order, re-attachment, late joiners, demand."""
from __future__ import annotations

import os
import random
import signal
import time
import zlib

import posix_ipc
import pytest

from common.ipc.packet_layout import DATA_STEP, DEFAULT_DATA_BYTES, MIB, data_bytes_for, entries_for
from common.ipc.packet_reader import PacketReader
from common.ipc.packet_writer import PacketWriter
from common.ipc.segment import RingBusy
from tests.support.procs import wait_until
from tests.support.ring_stress import CTX, readers_across_a_writer_restart

ENTRIES, DATA = 64, 1 << 20


@pytest.fixture
def name(ring_prefix: str) -> str:
    return f"/{ring_prefix}h264"


# -- a packet that carries its own index and checksum -----------------------------------------
def _packet(index: int, rng: random.Random) -> bytes:
    # Sizes from tiny to a fifth of the byte ring, so packets wrap around its end often.
    body = rng.randbytes(rng.choice((40, 900, 5000, 30000, 200000)))
    head = index.to_bytes(8, "little") + body
    return head + zlib.crc32(head).to_bytes(4, "little")


def _intact(packet) -> bool:
    data = packet.data
    return (len(data) >= 12 and int.from_bytes(data[:8], "little") == packet.index
            and zlib.crc32(data[:-4]) == int.from_bytes(data[-4:], "little")
            and packet.keyframe == (packet.index % 10 == 0))


def _writer(name: str, seconds: float, kill_me: bool) -> None:
    writer = PacketWriter(name, 320, 240, 30, stale_seconds=1.0, entries=ENTRIES, data_bytes=DATA)
    rng = random.Random(os.getpid())
    writer.set_extradata(b"\x00\x00\x00\x01\x67sps\x00\x00\x00\x01\x68pps")
    end, index = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        got = writer.publish(_packet(index, rng), index % 10 == 0, time.monotonic_ns(), time.time_ns())
        assert got == index
        index += 1
    if kill_me:
        os.kill(os.getpid(), signal.SIGKILL)  # dies mid-life, segment left behind
    writer.close()


def _reader(name: str, pause: float, stop, results) -> None:
    reader = PacketReader(name, stale_seconds=1.0)
    accepted = corrupt = gaps = out_of_order = 0
    incarnations, last = set(), None
    while not stop.is_set():
        packet = reader.next_packet(0.2)
        if packet is None:
            continue
        incarnations.add(packet.incarnation)
        accepted += 1
        corrupt += not _intact(packet)
        if last is not None and last[0] == packet.incarnation:
            if packet.index <= last[1]:
                out_of_order += 1
            gaps += max(0, packet.index - last[1] - 1)
        last = (packet.incarnation, packet.index)
        if pause:
            time.sleep(pause)
    results.put({"pause": pause, "accepted": accepted, "corrupt": corrupt, "gaps": gaps,
                 "out_of_order": out_of_order, "torn": reader.torn, "incarnations": len(incarnations)})
    reader.close()


@pytest.mark.slow
def test_stress_full_speed_writer_lapped_readers_every_packet_checked(name: str) -> None:
    readers = [(name, 0.0)] * 3 + [(name, 0.003)]  # the last one slow: lapped
    got = readers_across_a_writer_restart(_writer, (name, 2.0), _reader, readers)
    for r in got:
        assert r["corrupt"] == 0 and r["out_of_order"] == 0, r
        assert r["accepted"] > 50, r
        assert r["incarnations"] == 2, r  # re-attached to the restarted writer by itself
    slow = next(r for r in got if r["pause"])
    assert slow["gaps"] > 0, slow  # lapped: it misses packets, in order, never a torn one
    # The writer did overwrite packets while they were copied, and every one was caught.
    assert sum(r["torn"] for r in got) > 0, got


def test_late_reader_gets_parameter_sets_and_starts_at_newest_keyframe(name: str) -> None:
    writer = PacketWriter(name, 1280, 720, 30, entries=16, data_bytes=64 * 1024)
    try:
        writer.set_extradata(b"\x00\x00\x00\x01\x67abc\x00\x00\x00\x01\x68de")
        for i in range(40):
            writer.publish(bytes([i]) * 1000, i % 7 == 0, 1000 + i, 2000 + i)
        reader = PacketReader(name)
        assert reader.extradata() == b"\x00\x00\x00\x01\x67abc\x00\x00\x00\x01\x68de"
        key = reader.newest_keyframe()
        assert key == 35
        reader.seek(key)
        got = [reader.next_packet(0.5) for _ in range(5)]
        assert [p.index for p in got] == [35, 36, 37, 38, 39]
        assert got[0].keyframe and not got[1].keyframe and got[0].data == bytes([35]) * 1000
        assert (got[0].mono_ns, got[0].wall_ns) == (1035, 2035)
        assert (reader.width, reader.height, reader.fps) == (1280, 720, 30.0)
        assert reader.next_packet(0.05) is None
        # Too large for the ring: refused and counted, never half-written.
        assert writer.publish(bytes(40 * 1024), True, 1, 1) == -1
        reader.close()
    finally:
        writer.close()


def test_demand_expires_and_survives_a_writer_restart(name: str) -> None:
    writer = PacketWriter(name, 64, 64, 30, stale_seconds=0.5, entries=8, data_bytes=8192)
    reader = PacketReader(name, stale_seconds=0.5)
    try:
        assert not writer.wanted()
        reader.demand(0.3)
        assert writer.wanted()
        wait_until(lambda: not writer.wanted(), 2)
        reader.demand(5)
    finally:
        reader.close()
    # A crashed writer's segment is reclaimed in place and keeps the viewers' demand.
    writer._h.put("writer_pid", 2**22 + 12345)  # a pid no process has: as if killed
    writer._mm = None  # forget it without marking it gone
    again = PacketWriter(name, 64, 64, 30, stale_seconds=0.5, entries=8, data_bytes=8192)
    try:
        assert again.reclaimed and again.wanted()
    finally:
        again.close()


def _hold(name: str, ready) -> None:
    writer = PacketWriter(name, 64, 64, 30, stale_seconds=0.5, entries=8, data_bytes=8192)
    writer.publish(b"x" * 10, True, time.monotonic_ns(), time.time_ns())
    ready.set()
    time.sleep(60)


def test_live_writer_refused_and_dead_writer_seen_within_stale_seconds(name: str) -> None:
    ready = CTX.Event()
    hung = CTX.Process(target=_hold, args=(name, ready))  # alive, but no more packets or heartbeats
    hung.start()
    try:
        assert ready.wait(20)
        with pytest.raises(RingBusy, match="already written by live process"):
            PacketWriter(name, 64, 64, 30, stale_seconds=5, entries=8, data_bytes=8192)
        reader = PacketReader(name, stale_seconds=0.5)
        assert reader.alive()
        t0 = time.monotonic()
        wait_until(lambda: not reader.alive(), 3, interval=0.02)
        assert time.monotonic() - t0 < 1.0
        reader.close()
    finally:
        hung.kill()
        hung.join(10)
    writer = PacketWriter(name, 64, 64, 30, entries=8, data_bytes=8192)
    reader = PacketReader(name, stale_seconds=5.0)
    assert reader.alive()
    writer.close()  # a clean stop is seen at once
    assert not reader.alive()
    reader.close()


def test_another_users_segment_is_refused_not_read(name: str) -> None:
    """A segment under the ring's name that another user owns reads as no writer: its
    contents could be anything; once it is gone, the recorder's own segment is read."""
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=DATA)
    os.fchown(shm.fd, 65534, 65534)
    shm.close_fd()
    reader = PacketReader(name, stale_seconds=1.0)
    try:
        for _ in range(3):
            assert reader.next_packet(0.25) is None and reader.extradata() == b""
        assert "refused" in reader.error and "65534" in reader.error and name in reader.error
        posix_ipc.unlink_shared_memory(name)
        writer = PacketWriter(name, 64, 64, 30, entries=8, data_bytes=8192)
        try:
            writer.publish(b"key", True, time.monotonic_ns(), time.time_ns())
            wait_until(lambda: reader.next_packet(0.2) is not None, 5)
        finally:
            writer.close(unlink=True)
    finally:
        reader.close()


def test_a_packet_lapped_as_a_new_writer_reclaims_the_segment_is_not_handed_out(name: str) -> None:
    """The old writer laps a packet while a reader copies it and dies; a new writer then
    starts reclaiming the segment (reserve reset, incarnation not yet changed).  The reset
    reserve no longer shows the lap, so the reader must not trust it: torn, dropped."""
    old = PacketWriter(name, 64, 64, 30, stale_seconds=0.5, entries=16, data_bytes=8192)
    reader = PacketReader(name, stale_seconds=0.5)
    try:
        old.publish(b"A" * 3000, True, time.monotonic_ns(), time.time_ns())
        assert reader.next_packet(1.0).data == b"A" * 3000
        old.publish(b"B" * 3000, False, time.monotonic_ns(), time.time_ns())
        entry = reader._entry

        def lapped_then_reclaimed(index: int):
            meta = entry(index)               # the reader has chosen packet 1 and is copying it
            for _ in range(3):                # meanwhile the writer laps its bytes...
                old.publish(b"C" * 3000, False, time.monotonic_ns(), time.time_ns())
            old._h.put("last_index", -1)      # ...and a new one begins reclaiming the segment
            old._h.put("reserve", 0)
            return meta
        reader._entry = lapped_then_reclaimed
        assert reader._read(1) is None and reader.torn == 1
    finally:
        reader.close()
        old.close()


def test_entries_hold_a_keyframe_interval_and_the_readers_lag() -> None:
    assert entries_for(30, 60) == 120      # defaults: a keyframe every 2 s, and 2 s of lag
    assert entries_for(30, 300) == 360     # a keyframe every 10 s (the longest allowed)
    assert entries_for(5, 1) == 16         # never fewer than 16


def test_data_bytes_hold_the_entries_span_at_the_cap_and_no_more() -> None:
    # Defaults: 120 packets at 30 fps (4 s) at 2000 kbps plus a 2 s burst is 1.5 MB: 1.5 MiB.
    assert data_bytes_for(120, 30, 2000, 2.0) == 6 * DATA_STEP   # 1.5 MiB
    assert data_bytes_for(256, 30, 2000, 2.0) == 11 * DATA_STEP    # 8.5 s + 2 s: 2.6 MB
    assert data_bytes_for(120, 30, 50, 2.0) == MIB            # never under one MiB
    assert data_bytes_for(120, 30, 0, 2.0) == DEFAULT_DATA_BYTES   # no cap: the most
    assert data_bytes_for(120, 30, 100000, 2.0) == DEFAULT_DATA_BYTES


def test_every_entry_stays_readable_at_the_cap(name: str) -> None:
    # What the cap lets through (libx264's VBV): the cap's bytes per frame, and once its whole
    # buffer on top (a keyframe's burst), here in the oldest packet the entries still list.
    # Nothing they list has been overwritten in the byte ring sized for it.
    fps, kbps = 30, 2000
    entries = entries_for(fps, 2 * fps)
    written = 3 * entries
    oldest = written - 1 - (entries - 2)    # the oldest packet the entries keep
    writer = PacketWriter(name, 1280, 720, fps, entries=entries, data_bytes=data_bytes_for(entries, fps, kbps, 2.0))
    try:
        per_frame = kbps * 125 // fps
        for index in range(written):
            size = per_frame + (2 * kbps * 125 if index == oldest else 0)
            writer.publish(index.to_bytes(8, "little") * (size // 8), index % (2 * fps) == 0,
                           time.monotonic_ns(), time.time_ns())
        reader = PacketReader(name)
        try:
            assert reader.newest_keyframe() >= 0       # attached
            reader.seek(0)                             # the oldest packet still intact
            got = reader.next_packet(0.5)
            assert got is not None and got.index == oldest
            assert got.data[:8] == oldest.to_bytes(8, "little")
        finally:
            reader.close()
    finally:
        writer.close()
