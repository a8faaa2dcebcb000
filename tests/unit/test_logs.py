"""Logs that a flood cannot wash away: repeated lines limited per cause, the audit trail in
a private file of its own, the log folder private."""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from common.process.logs import RepeatLimit, limit_repeats
from streamer.auth.audit import AUDIT_FILE, AuditFile, attach, audit_log


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def lines() -> Lines:
    handler = Lines()
    logger = logging.getLogger("test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return handler


def test_repeats_of_one_cause_are_limited_and_counted(lines: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("common.process.logs.time.monotonic", lambda: now[0])
    limit = RepeatLimit(per_window=3, window_s=60.0)
    lines.addFilter(limit)
    log = logging.getLogger("test.logs")
    for n in range(500):
        log.warning("bad cookie from %s", f"10.0.0.{n % 200}")
        log.info("another cause %d", n, extra={"cause": n % 2})
    # A cause per format (not per value), refined by "cause".
    assert lines.lines == ["bad cookie from 10.0.0.0", "another cause 0", "bad cookie from 10.0.0.1",
                           "another cause 1", "bad cookie from 10.0.0.2", *(f"another cause {n}" for n in range(2, 6))]
    # A traceback of a new exception type is a cause of its own.
    try:
        raise ValueError("x")
    except ValueError:
        log.exception("bad cookie from %s", "10.0.0.1")
    assert len(lines.lines) == 10
    now[0] += 60.0
    log.warning("bad cookie from %s", "10.0.0.9")
    assert lines.lines[-1] == "bad cookie from 10.0.0.9 [and 497 more like this in the 60 s before, not logged]"
    # The note is not part of the cause: the next line of that kind counts with it.
    for _ in range(5):
        log.warning("bad cookie from %s", "10.0.0.9")
    assert len(lines.lines) == 13


def test_causes_remembered_are_bounded() -> None:
    limit = RepeatLimit(per_window=1, window_s=60.0, max_causes=16)
    for n in range(1000):
        assert limit.filter(logging.makeLogRecord({"name": "x", "msg": f"line {n}"}))
    assert len(limit._causes) == 16


def test_limit_is_put_once_on_each_handler() -> None:
    root_handler, own_handler = logging.NullHandler(), logging.NullHandler()
    logging.getLogger().addHandler(root_handler)
    logging.getLogger("test.own").addHandler(own_handler)
    try:
        first = limit_repeats("test.own")
        limit_repeats("test.own")
        for h in (root_handler, own_handler):
            assert [f for f in h.filters if isinstance(f, RepeatLimit)] == [first]
    finally:
        logging.getLogger().removeHandler(root_handler)
        logging.getLogger("test.own").removeHandler(own_handler)


def test_audit_file_is_private_and_rotates_whole_lines(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o755)
    (logs / "supervisord.log").write_text("x")
    os.chmod(logs / "supervisord.log", 0o644)
    old = os.umask(0)
    try:
        handler = attach(logs, tmp_path / "run")
    finally:
        os.umask(old)
    try:
        assert stat.S_IMODE(logs.stat().st_mode) == 0o750
        assert stat.S_IMODE((logs / "supervisord.log").stat().st_mode) == 0o640
        audit_log.info("control: %s by %s from %s", "recording paused on camera 0", "boss", "192.168.1.20",
                       extra={"cause": "boss pause"})
        text = (logs / AUDIT_FILE).read_text()
        assert text.endswith(" control: recording paused on camera 0 by boss from 192.168.1.20\n")
        assert stat.S_IMODE((logs / AUDIT_FILE).stat().st_mode) == 0o640
    finally:
        audit_log.removeHandler(handler)
    small = AuditFile(logs / "small.log", tmp_path / "run" / "small.lock", max_bytes=200, backups=2)
    small.filters.clear()
    for n in range(40):
        small.handle(logging.makeLogRecord({"msg": f"login: user{n:02d} (viewer) from 10.0.0.1"}))
    files = [logs / "small.log", logs / "small.log.1", logs / "small.log.2"]
    assert all(f.exists() for f in files) and not (logs / "small.log.3").exists()
    for f in files:
        assert os.path.getsize(f) <= 200 and all(ln.endswith("from 10.0.0.1") for ln in f.read_text().splitlines())
    assert "user39" in files[0].read_text()


def test_a_flood_of_audit_lines_of_one_cause_is_limited(tmp_path: Path) -> None:
    handler = attach(tmp_path / "logs", tmp_path / "run")
    try:
        for _ in range(1000):
            audit_log.info("login: %s (%s) from %s", "viewer1", "viewer", "10.0.0.7", extra={"cause": "viewer1"})
        audit_log.info("control: %s by %s from %s", "view set to 0", "boss", "10.0.0.2", extra={"cause": "boss view"})
        kept = (tmp_path / "logs" / AUDIT_FILE).read_text().splitlines()
        assert len(kept) == 21 and kept[-1].endswith("control: view set to 0 by boss from 10.0.0.2")
    finally:
        audit_log.removeHandler(handler)
