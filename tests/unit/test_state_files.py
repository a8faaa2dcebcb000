"""Corrupt shared state files (controls, status, viewer table, locks): defaults, one log line,
rewritten; nothing that reads them crashes."""

from __future__ import annotations

import builtins
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from common.state.board import StatusBoard
from common.state.controls import Controls
from streamer.live.viewers import ViewerTable
from tests.support.bad_json import BAD


def spoil(path: Path, kind: str) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "directory":
        (path / "inside").mkdir(parents=True)
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(BAD[kind])


KINDS = [*BAD, "directory", "fifo"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_controls_file_reads_as_defaults_and_is_rewritten(tmp_path: Path, kind: str, caplog) -> None:
    controls = Controls(tmp_path, "dual", "480p", 2)
    spoil(controls.path, kind)
    with caplog.at_level(logging.WARNING, "state"):
        for _ in range(3):
            assert controls.get() == controls.defaults
            assert controls.recording_enabled(0) is True
    assert len([r for r in caplog.records if str(controls.path) in r.getMessage()]) <= 2  # read, then moved aside
    assert caplog.records, "the bad file was not logged"
    assert controls.path.is_file() and json.loads(controls.path.read_text()) == controls.defaults
    assert controls.update(view="1")["view"] == "1"
    assert Controls(tmp_path, "dual", "480p", 2).get()["view"] == "1"


@pytest.mark.parametrize("kind", KINDS)
def test_bad_lock_file_does_not_stop_an_update(tmp_path: Path, kind: str) -> None:
    controls = Controls(tmp_path, "dual", "480p", 2)
    spoil(tmp_path / "controls.json.lock", kind)
    assert controls.update(recording={1: False})["recording"] == {"0": True, "1": False}
    assert controls.recording_enabled(1) is False


def test_unreadable_controls_file(tmp_path: Path, monkeypatch) -> None:
    controls = Controls(tmp_path, "dual", "720p", 2)
    controls.update(view="0")
    real_os_open, real_open = os.open, builtins.open

    def deny_os(path, flags, *args):
        if str(path) == str(controls.path) and not flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_os_open(path, flags, *args)

    def deny(path, mode="r", *args, **kw):
        if str(path) == str(controls.path) and "r" in mode:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, mode, *args, **kw)

    monkeypatch.setattr(os, "open", deny_os)
    monkeypatch.setattr(builtins, "open", deny)
    controls._cache = None
    assert controls.get()["resolution"] == "720p"   # defaults, no exception


@pytest.mark.parametrize("kind", KINDS)
def test_bad_status_file_is_absent_and_the_next_publish_replaces_it(tmp_path: Path, kind: str) -> None:
    board = StatusBoard(tmp_path, "", memory=tmp_path)
    path = tmp_path / "status-recorder-cam0.json"
    spoil(path, kind)
    doc = board.read("recorder-cam0")
    assert doc is None or doc["age_s"] > 1e6   # a document without a time is not fresh
    board.publish("recorder-cam0", {"state": "recording"})
    assert board.read("recorder-cam0")["state"] == "recording"


def test_status_with_a_bad_timestamp_is_very_old(tmp_path: Path) -> None:
    (tmp_path / "status-x.json").write_text('{"state": "recording", "published_at": "soon"}')
    assert StatusBoard(tmp_path, "", memory=tmp_path).read("x")["age_s"] > 1e6


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("which", ["table", "lock"])
def test_bad_viewer_table_is_empty_and_rewritten(tmp_path: Path, kind: str, which: str) -> None:
    table = ViewerTable(tmp_path, "viewers.json", {"480p": 1, "720p": 1})
    spoil(table.path if which == "table" else tmp_path / "viewers.json.lock", kind)
    assert table.counts() == {"480p": 0, "720p": 0}
    assert table.admit({"address": "127.0.0.2", "kind": "mjpeg", "res": "480p", "conn": "a"}).ok
    assert not table.admit({"address": "127.0.0.3", "kind": "mjpeg", "res": "480p", "conn": "b"}).ok
    assert table.counts() == {"480p": 1, "720p": 0}
    assert isinstance(json.loads(table.path.read_text()), dict)
