"""Ended segments are finished in a worker: in order, one waiting at most, errors reported
in the recording loop."""
from __future__ import annotations

import functools
import io
import threading
from pathlib import Path

import av

from recorder.segments.closer import Closer, Finished
from recorder.segments.writer import MUX_OPTIONS
from tests.support.procs import wait_until


@functools.cache
def three_frames() -> bytes:
    """A playable fragmented MP4 of three frames, a fragment each."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4", options={**MUX_OPTIONS, "frag_duration": "1"}) as c:
        stream = c.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = i
            for plane in frame.planes:
                plane.update(bytes([16 * i]) * plane.buffer_size)
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    return buf.getvalue()


class FakeFile:
    """What the closer uses of a segment file (3 frames muxed); ``close`` may block or fail."""

    def __init__(self, part: Path, complete: bool = True, fail: bool = False,
                 gate: threading.Event | None = None, content: bytes | None = None) -> None:
        part.write_bytes(three_frames() if content is None else content)
        self.part_path, self.complete, self.frames, self.duration_s = part, complete, 3, 0.1
        self.fail, self.gate, self.aborted = fail, gate, False

    def close(self) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail:
            raise OSError(28, "No space left on device")

    def abort(self) -> None:
        self.aborted = True


def test_files_are_finished_in_order_once_complete_and_reported_by_poll(tmp_path: Path) -> None:
    closer = Closer(0.0)
    got: list[tuple[str, Finished, str]] = []

    def then(name: str):
        return lambda done: got.append((name, done, threading.current_thread().name))
    try:
        first = FakeFile(tmp_path / "a.part", complete=False)   # the encoder still holds its last frames
        second = FakeFile(tmp_path / "b.part", fail=True)
        for file, name in ((first, "a.mp4"), (second, "b.mp4")):
            closer.add(file, tmp_path / name, then(name))
        for _ in range(5):
            closer.poll()
        assert got == [] and (tmp_path / "a.part").exists()   # nothing overtakes the incomplete one
        first.complete = True
        closer.wait()
    finally:
        closer.close()
    assert [(name, thread) for name, _, thread in got] == [("a.mp4", "MainThread"), ("b.mp4", "MainThread")]
    a, b = got[0][1], got[1][1]
    assert a.path == tmp_path / "a.mp4" and a.errors == [] and a.on_disk == 3 and not a.why_short
    assert b.path == tmp_path / "b.mp4" and second.aborted
    assert b.errors == ["closing b.part: OSError: [Errno 28] No space left on device"]


def test_a_file_the_muxer_took_frames_into_but_that_holds_none_gets_no_segment_name(tmp_path: Path) -> None:
    # A disk that filled up under the muxer's buffered header: the muxer took 3 frames and
    # reported no error; the file holds a torn header.
    closer = Closer(0.0)
    got: list[Finished] = []
    try:
        closer.add(FakeFile(tmp_path / "a.part", content=three_frames()[:40]), tmp_path / "a.mp4", got.append)
        closer.wait()
    finally:
        closer.close()
    assert got[0].path is None and got[0].frames == 3 and got[0].on_disk == 0 and got[0].why_short
    assert list(tmp_path.iterdir()) == []   # neither an unplayable segment nor its temporary file stays


def test_a_file_cut_after_its_first_fragment_is_kept_and_reported_short(tmp_path: Path) -> None:
    data = three_frames()
    cut = data.rindex(b"moof") - 4   # the last fragment and the index never reached the disk
    closer = Closer(0.0)
    got: list[Finished] = []
    try:
        closer.add(FakeFile(tmp_path / "a.part", content=data[:cut]), tmp_path / "a.mp4", got.append)
        closer.wait()
    finally:
        closer.close()
    done = got[0]
    assert done.path == tmp_path / "a.mp4" and done.path.exists()
    assert done.on_disk == 2 and done.why_short and done.errors == []


def test_one_file_waits_at_most_then_handing_over_waits(tmp_path: Path) -> None:
    gate = threading.Event()
    closer = Closer(0.0)
    done: list[str] = []
    try:
        for name in ("a", "b"):
            closer.add(FakeFile(tmp_path / f"{name}.part", gate=gate), tmp_path / f"{name}.mp4",
                       lambda _, n=name: done.append(n))
        closer.poll()     # a: in the worker, stuck in its close; b: waiting its turn
        closer.add(FakeFile(tmp_path / "c.part", gate=gate), tmp_path / "c.mp4", lambda _: done.append("c"))
        handing = threading.Thread(target=closer.poll)
        handing.start()
        handing.join(0.5)
        assert handing.is_alive()    # c waits for room: the worker lags, work does not pile up
        gate.set()
        handing.join(10)
        assert not handing.is_alive()
        wait_until(lambda: (closer.poll(), done == ["a", "b", "c"])[1], 10)
    finally:
        gate.set()
        closer.close()


def test_the_recorder_says_a_lost_segment_apart_from_a_short_one(recorder_rig) -> None:
    s = recorder_rig()
    wait_until(lambda: s.rec.syncer is not None, 10)   # running
    root = s.cfg.recordings_root
    s.rec._finished(0, 0, 29, 0, "segment boundary", Finished(frames=30, on_disk=0, why_short="torn header"))
    st = s.rec.status()
    assert st["last_error_code"] == "lost_segment" and s.rec.frames_dropped == 30
    assert st["last_error"] == "a segment was lost: none of its 30 frames reached the disk (torn header)"
    kept = root / "cam0" / "261205" / "cam0_20261205_100000.mp4"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(three_frames())
    s.rec._finished(0, 30, 59, 0, "segment boundary",
                    Finished(path=kept, frames=30, on_disk=3, size=kept.stat().st_size, duration_s=1.0, kept_s=0.1,
                             why_short="cut"))
    st = s.rec.status()
    assert st["last_error_code"] == "short_segment" and s.rec.frames_dropped == 57
    assert st["last_error"].startswith("cam0/261205/cam0_20261205_100000.mp4: only 3 of 30 frames")
    s.stop()
