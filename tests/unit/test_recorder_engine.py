"""Both recording engines share one set-up, one pause rule and one status document."""
from __future__ import annotations

from pathlib import Path

from common.config import load
from common.state.controls import Controls
from recorder.recording import Recorder
from recorder.rpicam import RpicamRecorder
from tests.support.procs import isolated_env


def _engines(tmp_path: Path) -> tuple[Recorder, RpicamRecorder]:
    cfg = load(isolated_env(tmp_path / "sht"))
    return Recorder(cfg, 0, free_bytes=lambda _: 10**12), RpicamRecorder(cfg, 1)


def test_both_engines_publish_the_same_status_fields(tmp_path: Path) -> None:
    pyav, rpicam = _engines(tmp_path)
    try:
        docs = [pyav.status(), rpicam.status()]
        common = {"camera", "pid", "engine", "state", "recording", "enabled", "encoder", "segment_seconds",
                  "current_file", "segments_written", "frames_written", "frames_dropped", "last_error",
                  "last_error_at", "disk_free_bytes", "disk_warning", "disk_error", "retention",
                  "retention_deleted_count", "retention_deleted_bytes", "retention_deleted",
                  "recovered_files", "recent_segments"}
        for doc in docs:
            assert common <= set(doc), common - set(doc)
        assert [d["engine"] for d in docs] == ["pyav", "rpicam-vid"]
        assert [d["state"] for d in docs] == ["waiting", "waiting"]
        rpicam.note_error("rpicam-vid exited with code 1; restarting")
        doc = rpicam.status()
        assert doc["state"] == "error" and doc["last_error"].startswith("rpicam-vid exited")
        assert doc["last_error_at"] is not None
    finally:
        pyav.live.close()      # the low-data packet ring it made: nothing left in /dev/shm
        pyav.reader.close()


def test_pause_and_stop_are_followed_alike(tmp_path: Path) -> None:
    pyav, rpicam = _engines(tmp_path)
    try:
        controls = Controls(pyav.cfg.run_dir, "dual", "480p", 2)
        controls.update(recording={0: False, 1: False})
        for engine in (pyav, rpicam):
            engine.tick(0.0)           # every duty is due at the first tick
            assert not engine.enabled and engine.status()["state"] == "paused"
            engine.publish(final=True)
            doc = engine.board.read(engine.status_name)
            assert doc["state"] == "stopped" and doc["recording"] is False and doc["current_file"] is None
            engine.stop()
            assert engine.stopping
    finally:
        pyav.live.close()      # the low-data packet ring it made: nothing left in /dev/shm
        pyav.reader.close()
