"""Off-site copies against real servers on loopback: OpenSSH's sshd (SFTP), ``rclone serve webdav``
and moto's S3 server (the standard local S3 test server from PyPI).

Segments are written into the recordings root the way a recorder finishes them (a part file
renamed to its final name); the offsite program is started as supervisord starts it.
"""
from __future__ import annotations

import os
import sqlite3
import statistics
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from common.archive import segment_name
from common.state.board import StatusBoard
from streamer.archive.health import offsite_health
from tests.support.mounts import tmpfs
from tests.support.offsite_servers import (
    MOTO,
    RCLONE,
    SSHD,
    S3Server,
    SftpServer,
    WebdavServer,
    files_under,
    without_ca_bundle,
)
from tests.support.procs import Procs, isolated_env, status_board, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(RCLONE is None, reason="rclone is not installed (apt-get install rclone)")]
needs_sshd = pytest.mark.skipif(SSHD is None, reason="OpenSSH's sshd is not installed (apt-get install openssh-server)")


class Archive:
    """A recordings root that segments are finished into."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = time.time() - 3600

    def finish(self, camera: int, size: int = 50_000) -> str:
        """A new segment of ``camera``, 30 s after the previous one; its path under the root."""
        self.clock += 30
        rel = segment_name.for_start(camera, datetime.fromtimestamp(self.clock)).rel_path
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        part = self.root / segment_name.part_path(rel)
        part.write_bytes(os.urandom(size))
        os.replace(part, final)
        return rel.as_posix()

    def files(self) -> dict[str, bytes]:
        return {k: v for k, v in files_under(self.root).items() if k.startswith("cam")}


def _sent_order(root: Path) -> list[str]:
    """The segments marked sent, in the order they were."""
    try:
        conn = sqlite3.connect(f"file:{root / 'offsite.sqlite'}?mode=ro", uri=True)
        try:
            return [r[0] for r in conn.execute("SELECT file FROM queue WHERE state = 'sent' ORDER BY done_at")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


def _start(procs: Procs, env: dict[str, str], name: str = "offsite") -> None:
    procs.start(name, "-m", "offsite", env=env)


@pytest.fixture
def sftp(tmp: Path) -> Iterator[SftpServer]:
    if SSHD is None:
        pytest.skip("OpenSSH's sshd is not installed (apt-get install openssh-server)")
    server = SftpServer(tmp / "sftp")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webdav(tmp: Path) -> Iterator[WebdavServer]:
    server = WebdavServer(tmp / "webdav")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3(tmp: Path) -> Iterator[S3Server]:
    if not MOTO:
        pytest.skip("moto's S3 server is not installed (pip install -r requirements-test.txt)")
    server = S3Server(tmp / "s3")
    try:
        server.start()
    except AssertionError:
        server.stop()
        pytest.skip(f"moto's S3 server did not start: {(tmp / 's3' / 'server.log').read_text()[-500:]}")
    yield server
    server.stop()


def _system(tmp: Path, remote: str, **extra: object) -> tuple[dict[str, str], Procs, Archive, StatusBoard]:
    env = without_ca_bundle(isolated_env(tmp / "sys", offsite__remote=remote, **extra))
    return env, Procs(env, tmp / "sys" / "logs"), Archive(Path(env["SHT__RECORDER__ROOT"])), status_board(env)


@pytest.mark.parametrize("server_name", [pytest.param("sftp", marks=needs_sshd), "webdav", "s3"])
def test_every_finished_segment_arrives_byte_identical(tmp: Path, request: pytest.FixtureRequest,
                                                      server_name: str) -> None:
    server = request.getfixturevalue(server_name)
    env, procs, archive, board = _system(tmp, server.remote())
    for _ in range(3):
        archive.finish(0)
        archive.finish(1)
    try:
        _start(procs, env)
        wait_until(lambda: server.files() == archive.files(), 60, interval=0.2)
        # Lag: from a segment's rename to its arrival, one at a time as a recorder finishes them.
        lags = []
        for i in range(6):
            rel = archive.finish(i % 2)
            finished = time.monotonic()
            wait_until(lambda rel=rel: server.size_of(rel) == (archive.root / rel).stat().st_size, 60, 0.05)
            lags.append(time.monotonic() - finished)
        assert server.files() == archive.files()
        doc = wait_until(lambda: (d := board.read_offsite()) and d["sent_segments"] == 12 and d, 10)
        assert isinstance(doc, dict)
        assert doc["cameras"]["1"]["newest_file"] == rel and doc["cameras"]["0"]["backlog_segments"] == 0
        lags.sort()
        print(f"\n{server_name}: finished segment to off-site, p50 {statistics.median(lags):.2f} s, "
              f"max {lags[-1]:.2f} s over {len(lags)}")
    finally:
        procs.close()
        print(procs.logs())


@needs_sshd
def test_outage_drains_newest_first_nothing_lost_or_twice(tmp: Path, sftp: SftpServer) -> None:
    env, procs, archive, board = _system(tmp, sftp.remote())
    archive.finish(0)
    try:
        _start(procs, env)
        wait_until(lambda: len(_sent_order(archive.root)) == 1, 60, interval=0.2)
        sftp.stop()
        during = [archive.finish(0) for _ in range(4)]
        doc = wait_until(lambda: (d := board.read_offsite()) and d["state"] == "error" and d, 60, 0.2)
        assert isinstance(doc, dict) and doc["last_error_cause"] == "network"
        block, warnings = offsite_health({**doc, "age_s": 0.0})
        assert block is not None and block["last_error_cause"] == "network" and warnings
        sftp.start()
        wait_until(lambda: len(_sent_order(archive.root)) == 5, 90, interval=0.2)
        assert files_under(sftp.folder) == archive.files()
        assert _sent_order(archive.root)[1:] == list(reversed(during)), _sent_order(archive.root)
    finally:
        procs.close()
        print(procs.logs())


@needs_sshd
def test_kill_9_mid_file_partial_copy_is_replaced(tmp: Path, sftp: SftpServer) -> None:
    env, procs, archive, _ = _system(tmp, sftp.remote(), offsite__bwlimit="200k")
    rel = archive.finish(0, size=2_000_000)   # 10 s at 200 kB/s
    try:
        _start(procs, env)
        target = sftp.folder / rel
        wait_until(lambda: target.is_file() and 0 < target.stat().st_size, 60, interval=0.1)
        procs.kill("offsite")
        time.sleep(1.0)
        assert target.stat().st_size < 2_000_000   # the cut-off copy
        assert _sent_order(archive.root) == []
        fast = {**env, "SHT__OFFSITE__BWLIMIT": ""}
        _start(procs, fast, "offsite2")
        wait_until(lambda: _sent_order(archive.root) == [rel], 60, interval=0.2)
        assert files_under(sftp.folder) == archive.files()
    finally:
        procs.close()
        print(procs.logs())


@needs_sshd
def test_wrong_key_is_an_auth_error_in_status_and_health(tmp: Path, sftp: SftpServer) -> None:
    env, procs, archive, board = _system(tmp, sftp.remote(key=sftp.wrong_key))
    rel = archive.finish(0)
    try:
        _start(procs, env)
        doc = wait_until(lambda: (d := board.read_offsite()) and d["state"] == "error" and d, 60, 0.2)
        assert isinstance(doc, dict) and doc["last_error_cause"] == "auth" and doc["last_error"]
        assert doc["cameras"]["0"]["backlog_segments"] == 1
        block, warnings = offsite_health({**doc, "age_s": 0.0})
        assert block is not None and block["last_error_cause"] == "auth"
        assert any("(auth)" in w for w in warnings)
        assert not (sftp.folder / rel).exists() and (archive.root / rel).is_file()
    finally:
        procs.close()
        print(procs.logs())


@needs_sshd
def test_full_remote_is_a_quota_error_until_space_returns(tmp: Path, sftp: SftpServer) -> None:
    """The remote's disk (a 1 MiB tmpfs under the SFTP folder) is nearly full: OpenSSH answers
    the write with a bare "Failure", the remote's free space says why."""
    env, procs, archive, board = _system(tmp, sftp.remote())
    with tmpfs(sftp.folder, "1m"):
        filler = sftp.folder / "filler"
        filler.write_bytes(b"\0" * 700_000)
        rel = archive.finish(0, size=500_000)
        try:
            _start(procs, env)
            doc = wait_until(lambda: (d := board.read_offsite()) and d["state"] == "error" and d, 60, 0.2)
            assert isinstance(doc, dict) and doc["last_error_cause"] == "quota", doc
            block, warnings = offsite_health({**doc, "age_s": 0.0})
            assert block is not None and block["last_error_cause"] == "quota" and block["queued_segments"] == 1
            assert any("(quota)" in w for w in warnings)
            # Recording goes on: the segment stays on the box and in the queue, and the next is queued too.
            assert (archive.root / rel).is_file() and _sent_order(archive.root) == []
            later = archive.finish(0, size=400_000)   # no more room than the first
            wait_until(lambda: (d := board.read_offsite()) and d["cameras"]["0"]["backlog_segments"] == 2, 30, 0.2)
            filler.unlink()   # the owner makes room
            wait_until(lambda: len(_sent_order(archive.root)) == 2, 90, interval=0.2)
            assert files_under(sftp.folder) == archive.files() and _sent_order(archive.root)[0] == later
            doc = wait_until(lambda: (d := board.read_offsite()) and d["state"] != "error" and d, 30, 0.2)
            assert isinstance(doc, dict) and doc["last_sent_at"] is not None
            block, warnings = offsite_health({**doc, "age_s": 0.0})
            assert block is not None and block["status"] == "ok" and warnings == []
        finally:
            procs.close()
            print(procs.logs())
