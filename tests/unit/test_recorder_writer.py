"""One segment file: timestamps, keyframes, a cut at any moment."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import av
import pytest

from common.archive.mp4_duration import mp4_duration
from recorder.encode import settings as encoder
from recorder.segments.writer import finalise, probe
from tests.support.encoding import FPS, PERIOD_NS, H, W, write
from tests.support.recorder_check import ffprobe_duration, read_segment


def test_timestamps_are_capture_times_so_a_stall_shows_as_a_stall(tmp_path: Path) -> None:
    t0 = 5_000_000_000
    times = [t0 + int(n * PERIOD_NS) for n in range(30)]
    times += [t0 + int(500e6) + int(n * PERIOD_NS) for n in range(30, 60)]   # 0.5 s without frames
    write(tmp_path / "s.mp4", times)
    seg = read_segment(tmp_path / "s.mp4")
    assert seg.frames == seg.decoded == 60 and seg.first_is_key and seg.first_index == 7
    assert abs(seg.duration_s - 2.5) < 1.5 / FPS
    with av.open(str(tmp_path / "s.mp4")) as c:
        keys = [p.is_keyframe for p in c.demux(c.streams.video[0]) if p.size]
    assert [i for i, k in enumerate(keys) if k] == [0, 30]   # one keyframe a second
    probed = ffprobe_duration(tmp_path / "s.mp4")
    if probed is not None:
        assert abs(probed - 2.5) < 1.5 / FPS


def test_a_file_cut_at_any_moment_plays_up_to_its_last_keyframe(tmp_path: Path) -> None:
    part = tmp_path / ".cam0_20261126_063000.mp4.part"
    w = write(part, [int(n * PERIOD_NS) for n in range(75)], close=False)
    cut = tmp_path / "cut.mp4"
    shutil.copyfile(part, cut)            # what a kill -9 or power cut would leave now
    seg = read_segment(cut)
    assert seg.first_is_key and seg.decoded >= 60 - 1
    check = probe(cut)
    assert check.ok and check.frames == seg.frames
    w.close()
    final = finalise(part, tmp_path / "cam0_20261126_063000.mp4")
    assert final.name == "cam0_20261126_063000.mp4" and read_segment(final).frames == 75
    # A name already taken is never overwritten: the next free second is used.
    part.write_bytes(b"")
    again = finalise(part, tmp_path / "cam0_20261126_063000.mp4")
    assert again.name == "cam0_20261126_063001.mp4" and final.stat().st_size > 0
    part.write_bytes(b"")
    assert finalise(part, tmp_path / "cam0_20261126_063000.mp4").name == "cam0_20261126_063002.mp4"
    part.write_bytes(b"")
    (tmp_path / "cam0_20261126_235959.mp4").write_bytes(b"")
    assert finalise(part, tmp_path / "cam0_20261126_235959.mp4").name == "cam0_20261126_235959_1.mp4"


def test_a_kill_loses_at_most_a_second_whatever_the_keyframe_interval(tmp_path: Path) -> None:
    part = tmp_path / ".cam0_20261126_063000.mp4.part"
    w = write(part, [int(n * PERIOD_NS) for n in range(2 * FPS - 5)], close=False, gop=4 * FPS)
    cut = tmp_path / "cut.mp4"
    shutil.copyfile(part, cut)            # what a kill -9 would leave 1.8 s into a 4 s keyframe interval
    seg = read_segment(cut)
    assert seg.first_is_key and seg.decoded >= FPS - 1, seg.decoded
    w.close()
    final = finalise(part, tmp_path / "cam0_20261126_063000.mp4")
    whole = read_segment(final)
    assert whole.frames == whole.decoded == 2 * FPS - 5 and whole.first_is_key
    assert abs(mp4_duration(final) - (2 * FPS - 5) / FPS) < 1.5 / FPS    # the index still spans it all


def test_probe_never_raises_on_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(os.urandom(5000))
    assert probe(bad).ok is False
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert probe(empty).ok is False


def test_encoder_choice_falls_back_to_libx264_where_no_hardware_encoder_opens() -> None:
    assert encoder.choose("libx264", W, H, FPS) == ("libx264", "recorder.encode.settings = libx264")
    name, why = encoder.choose("auto", W, H, FPS)
    if encoder.hardware_opens(W, H, FPS):   # a reason: the V4L2 encoder is missing (a PC, a Pi 5)
        assert name == "libx264" and "h264_v4l2m2m does not open" in why
    else:
        assert name == "h264_v4l2m2m"


def test_recovery_names_every_leftover_and_never_overwrites(tmp_path: Path) -> None:
    from recorder.segments.recovery import recover
    root = tmp_path / "rec"
    day = root / "cam0" / "261126"
    day.mkdir(parents=True)
    part = day / ".cam0_20261126_063000.mp4.part"
    w = write(part, [int(n * PERIOD_NS) for n in range(65)], close=False)
    shutil.copyfile(part, day / ".cam0_20261126_063030.mp4.part")   # cut mid-write
    w.close()
    (day / "cam0_20261126_063000.mp4").write_bytes(b"older file of the same name")
    (day / ".cam0_20261126_063100.mp4.part").write_bytes(b"")       # died before writing a byte
    data = (day / ".cam0_20261126_063030.mp4.part").read_bytes()
    header = data[:data.index(b"moof") - 4]                          # died before its first fragment
    (day / ".cam0_20261126_063130.mp4.part").write_bytes(header)
    other = root / "cam1" / "261126" / ".cam1_20261126_063000.mp4.part"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"x")                                          # another camera's: not ours
    done = recover(root, 0)
    assert [d["file"] for d in done] == ["cam0/261126/cam0_20261126_063001.mp4",
                                         "cam0/261126/cam0_20261126_063030.mp4"]
    assert all(d["playable"] for d in done) and done[0]["frames"] == 65 and done[1]["frames"] >= 59
    assert (day / "cam0_20261126_063000.mp4").read_bytes() == b"older file of the same name"
    assert sorted(p.name for p in day.iterdir()) == ["cam0_20261126_063000.mp4", "cam0_20261126_063001.mp4",
                                                     "cam0_20261126_063030.mp4"]
    assert other.exists()


def test_the_open_segment_is_synced_to_disk_every_interval(tmp_path: Path, monkeypatch) -> None:
    import time

    from recorder.segments import syncer as syncer_module
    synced: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(syncer_module.os, "fdatasync", lambda fd: (synced.append(fd), real(fd)))
    path = tmp_path / "seg.part"
    path.write_bytes(b"data")
    s = syncer_module.Syncer(0.05)
    try:
        s.watch(path)
        deadline = time.monotonic() + 10
        while len(synced) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(synced) >= 3
        s.watch(None)
        time.sleep(0.2)
        count = len(synced)
        time.sleep(0.3)
        assert len(synced) == count   # nothing watched: nothing synced
    finally:
        s.close()
    off = syncer_module.Syncer(0)
    off.watch(path)
    time.sleep(0.2)
    off.close()
    assert len(synced) == count


def test_blocks_are_set_aside_ahead_of_the_open_segment_and_given_back_at_its_end(tmp_path: Path) -> None:
    """A sync then finds blocks for the new data already there: it does not allocate them (and
    write the file system's bitmaps again) every second."""
    from recorder.segments import syncer as syncer_module
    from tests.support.procs import wait_until
    probe_fd = os.open(tmp_path / "probe", os.O_WRONLY | os.O_CREAT)
    try:
        if syncer_module._set_aside(probe_fd, 0, 4096) in (errno.EOPNOTSUPP, errno.ENOSYS):
            pytest.skip("this file system cannot set blocks aside (fallocate keeping the size)")
    finally:
        os.close(probe_fd)
    if shutil.disk_usage(tmp_path).free < 1 << 30:
        pytest.skip("under 1 GB free here: nothing is set aside on a nearly full disk")
    path = tmp_path / "seg.part"
    path.write_bytes(b"")
    s = syncer_module.Syncer(0.05)
    try:
        s.watch(path)
        with open(path, "ab") as fh:                           # 20 kB in a 50 ms tick: 30 s ahead is 12 MB
            fh.write(b"x" * 20_000)
        wait_until(lambda: path.stat().st_blocks * 512 >= 4 << 20, 5.0, interval=0.01)
        assert path.stat().st_size == 20_000                   # what was written, no more
        s.watch(None)
    finally:
        s.close()
    written = path.stat().st_mtime_ns
    syncer_module.release(path)
    st = path.stat()
    assert st.st_size == 20_000 and st.st_blocks * 512 < st.st_size + (64 << 10)
    assert st.st_mtime_ns == written                            # its place in write order stays
