"""Status documents: what each producer publishes is what common.state.documents declares,
and a typed read of a document from disk keeps only the values that match it."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from capture.__main__ import Capture
from common.config import load
from common.state.board import StatusBoard
from common.state.conform import conform
from common.state.documents import CaptureStatus, MotionStatus, RecorderStatus
from motion.__main__ import MotionService
from recorder.recording import Recorder
from recorder.rpicam import RpicamRecorder
from tests.support.procs import isolated_env


def assert_declared(doc: dict[str, Any] | None, shape: Any) -> None:
    """Every value has its declared type, every required key is there, no key is undeclared."""
    assert doc is not None
    problems: list[str] = []
    assert conform(doc, shape, problems) == doc and problems == []
    assert shape.__required_keys__ <= doc.keys() <= get_type_hints(shape).keys()


def test_producers_publish_what_is_declared(tmp_path: Path) -> None:
    cfg = load(isolated_env(tmp_path / "sht"))
    board = StatusBoard.for_config(cfg)
    pyav, rpicam = Recorder(cfg, 0, free_bytes=lambda _: 10**12), RpicamRecorder(cfg, 1)
    try:
        rpicam.note_error("rpicam-vid exited with code 1; restarting")
        for engine in (pyav, rpicam):
            engine.publish()
            assert_declared(board.read(engine.status_name), RecorderStatus)
            engine.publish(final=True)
            assert_declared(board.read(engine.status_name), RecorderStatus)
    finally:
        pyav.live.close()
        pyav.reader.close()
    Capture(cfg, 1).publish("not connected", "camera 1 not connected", "picamera2")
    assert_declared(board.read("capture-cam1"), CaptureStatus)
    service = MotionService(cfg)
    try:
        service._publish()
        assert_declared(board.read("motion"), MotionStatus)
    finally:
        for watch in service.watches:
            watch.stop()
        service.store.close()


def test_a_typed_read_keeps_what_matches_and_says_once_what_it_left_out(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    board = StatusBoard(tmp_path, "", memory=tmp_path)
    path = tmp_path / "status-recorder-cam0.json"
    segment = {"file": "cam0/260101/cam0_20260101_000000.mp4", "frames": 900, "duration_s": 30, "bytes": 5}
    path.write_text(json.dumps({
        "state": "recording", "segments_written": "7", "disk_warning": 1, "frames_dropped": True,
        "recent_segments": [segment, "junk", {**segment, "frames": "many"}],
        "last_clock_step": {"step_s": "big", "at": 1.5}, "retention_deleted": {"file": "x"},
        "engine": None, "from_a_newer_version": [1, 2]}))
    with caplog.at_level(logging.WARNING, logger="state"):
        doc = board.read_recorder(0)
        again = board.read_recorder(0)
    assert doc is not None and again is not None
    assert doc.pop("age_s") >= 0 and again.pop("age_s") >= 0 and doc == again
    unframed = {k: v for k, v in segment.items() if k != "frames"}
    assert doc == {"state": "recording", "recent_segments": [segment, unframed], "last_clock_step": {"at": 1.5},
                   "from_a_newer_version": [1, 2]}
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "status-recorder-cam0.json" in warnings[0]
    assert "frames_dropped: True is not int" in warnings[0]   # the first few, in declaration order

    # A document that is no object is none; an unknown state is left out like any bad value.
    path.write_text("[1, 2]")
    assert board.read_recorder(0) is None
    path.write_text('{"state": "dancing", "pid": 12}')
    doc = board.read_recorder(0)
    assert doc is not None and "state" not in doc and doc["pid"] == 12
    assert board.read_recorder(1) is None   # no file


def test_the_json_on_disk_is_the_published_dict(tmp_path: Path) -> None:
    board = StatusBoard(tmp_path, "", memory=tmp_path)
    doc: CaptureStatus = {"camera": 0, "pid": os.getpid(), "state": "live", "reason": "", "source": "synthetic"}
    board.publish_capture(0, doc)
    stored = json.loads((tmp_path / "status-capture-cam0.json").read_text())
    assert stored.pop("published_at") > 0 and stored == doc
    read = board.read_capture(0)
    assert read is not None and read.pop("age_s") < 60 and read.pop("published_at") > 0 and read == doc


def test_documents_published_every_second_are_kept_in_memory_not_in_the_run_folder(tmp_path: Path) -> None:
    """The recorders' and the motion process's once-a-second documents never touch the run
    folder (an SD card) while they run; their last word when they stop is written there once
    and leaves memory.  Documents written on change stay in the run folder."""
    cfg = load(isolated_env(tmp_path / "sht"))
    memory = tmp_path / "memory"
    memory.mkdir()
    board = StatusBoard(cfg.run_dir, cfg.ring.prefix, memory=memory)
    pyav = Recorder(cfg, 0, free_bytes=lambda _: 10**12)
    pyav.board = board
    try:
        for _ in range(3):
            pyav.publish()
        in_memory = memory / f"{cfg.ring.prefix}status-recorder-cam0.json"
        assert in_memory.is_file() and not (cfg.run_dir / "status-recorder-cam0.json").exists()
        assert board.read_recorder(0)["state"] == "waiting"
        pyav.publish(final=True)
        assert not in_memory.exists()
        assert json.loads((cfg.run_dir / "status-recorder-cam0.json").read_text())["state"] == "stopped"
        assert board.read_recorder(0)["state"] == "stopped"
        pyav.publish()   # started again: memory wins over what the last run left
        assert board.read_recorder(0)["state"] == "waiting"
    finally:
        pyav.live.close()
        pyav.reader.close()
    board.publish_motion({"pid": 7, "cameras": {}, "webhook": None, "db_error": ""})
    assert (memory / f"{cfg.ring.prefix}status-motion.json").is_file()
    board.publish_capture(0, {"camera": 0, "pid": 7, "state": "live", "reason": "", "source": "synthetic"})
    board.publish_last_camera({"camera": 1})
    assert sorted(p.name for p in cfg.run_dir.iterdir() if p.name.startswith("status-")) == [
        "status-capture-cam0.json", "status-recorder-cam0.json", "status-streamer-last-camera.json"]


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file of another user needs root")
def test_a_document_in_memory_made_by_another_user_is_not_read(tmp_path: Path) -> None:
    """/dev/shm is writable by every local user: nobody else may pose as our recorder."""
    board = StatusBoard(tmp_path / "run", "p_", memory=tmp_path)
    board.publish("recorder-cam0", {"state": "recording"})
    assert board.read("recorder-cam0")["state"] == "recording"
    os.chown(board.memory_path("recorder-cam0"), 65534, 65534)
    assert board.read("recorder-cam0") is None
