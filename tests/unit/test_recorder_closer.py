"""Ended segments are finished in a worker: in order, one waiting at most, errors reported
in the recording loop."""
from __future__ import annotations

import threading
from pathlib import Path

from recorder.segments.closer import Closer, Finished
from tests.support.procs import wait_until


class FakeFile:
    """What the closer uses of a segment file; ``close`` may block or fail."""

    def __init__(self, part: Path, complete: bool = True, fail: bool = False,
                 gate: threading.Event | None = None) -> None:
        part.write_bytes(b"not an mp4")
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
    assert a.path == tmp_path / "a.mp4" and a.errors == [] and a.on_disk == 0 and a.why_short
    assert b.path == tmp_path / "b.mp4" and second.aborted
    assert b.errors == ["closing b.part: OSError: [Errno 28] No space left on device"]


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
