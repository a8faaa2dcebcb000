"""``offsite.bwlimit`` honoured within 10%: bytes arriving at a real SFTP server on loopback,
read from the remote file's size as it grows, against the configured rate (a plain rate and
the current entry of a day schedule).  A value rclone would not take stops the program at
start with exit code 2 and the key named."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support.offsite_servers import RCLONE, SSHD, SftpServer
from tests.support.procs import REPO, Procs, isolated_env

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(RCLONE is None, reason="rclone is not installed (apt-get install rclone)"),
              pytest.mark.skipif(SSHD is None,
                                 reason="OpenSSH's sshd is not installed (apt-get install openssh-server)")]
RATE_KIB = 300                  # rclone's "k" is KiB/s
SIZE = 3_000_000                # 10 s at that rate
TOLERANCE = 0.10


def _schedule_now(rate: str) -> str:
    """A day schedule whose entry in force now (from an hour ago) is ``rate``, unlimited half a day later."""
    now = datetime.now()
    entries = sorted([f"{(now - timedelta(hours=1)):%H:%M},{rate}", f"{(now + timedelta(hours=11)):%H:%M},off"])
    return " ".join(entries)


def _arrival(tmp: Path, bwlimit: str) -> list[tuple[float, int]]:
    """(time, bytes on the remote) while one segment of SIZE bytes goes, until it is whole."""
    server = SftpServer(tmp / "sftp")
    server.start()
    env = isolated_env(tmp / "sys", offsite__remote=server.remote(), offsite__bwlimit=bwlimit)
    procs = Procs(env, tmp / "sys" / "logs")
    rel = "cam0/261204/cam0_20261204_101500.mp4"
    local = Path(env["SHT__RECORDER__ROOT"]) / rel
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(bytes(range(256)) * (SIZE // 256) + bytes(SIZE % 256))
    samples: list[tuple[float, int]] = []
    try:
        procs.start("offsite", "-m", "offsite")
        target = server.folder / rel
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            size = target.stat().st_size if target.is_file() else 0
            samples.append((time.monotonic(), size))
            if size >= SIZE:
                break
            time.sleep(0.05)
        assert target.read_bytes() == local.read_bytes()
    finally:
        procs.close()
        server.stop()
        print(procs.logs())
    return samples


def _rate(samples: list[tuple[float, int]]) -> float:
    """Bytes per second between the first sample past 20% of the file and the first past 90%
    (the start, with its connection and first burst, is left out)."""
    t0, b0 = next((t, b) for t, b in samples if b >= 0.2 * SIZE)
    t1, b1 = next((t, b) for t, b in samples if b >= 0.9 * SIZE)
    return (b1 - b0) / (t1 - t0)


@pytest.mark.parametrize("bwlimit", [f"{RATE_KIB}k", "schedule"])
def test_bytes_moved_keep_to_the_limit(tmp_path: Path, bwlimit: str) -> None:
    setting = _schedule_now(f"{RATE_KIB}k") if bwlimit == "schedule" else bwlimit
    rate = _rate(_arrival(tmp_path, setting))
    limit = RATE_KIB * 1024
    print(f"\n{setting!r}: {rate / 1024:.0f} KiB/s against {RATE_KIB} KiB/s")
    assert abs(rate - limit) <= TOLERANCE * limit, (setting, rate)


@pytest.mark.parametrize("bwlimit", ["fast", "25:00,1M", "08:00,1M 19:00"])
def test_a_bad_limit_stops_the_program_at_start_naming_the_key(tmp_path: Path, bwlimit: str) -> None:
    env = isolated_env(tmp_path / "sht", offsite__remote=":local:/nowhere", offsite__bwlimit=bwlimit)
    done = subprocess.run([sys.executable, "-m", "offsite"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"offsite.bwlimit = '{bwlimit}'" in done.stderr, done.stderr


def test_an_unlimited_upload_is_faster_than_the_limit(tmp_path: Path) -> None:
    """The measurement can tell: without a limit the same file moves well above it."""
    samples = _arrival(tmp_path, "")
    first = next(t for t, b in samples if b > 0)
    assert samples[-1][0] - first < SIZE / (RATE_KIB * 1024) / 2
