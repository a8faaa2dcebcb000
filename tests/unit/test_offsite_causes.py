"""Why an rclone run failed, as the page says it; and the [offsite] settings."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.config import Config, ConfigError, load
from offsite.causes import classify, last_line


@pytest.mark.parametrize("code, stderr, cause", [
    (1, "Failed to copyto: couldn't connect SSH: ssh: handshake failed: ssh: unable to authenticate, "
        "attempted methods [none publickey], no supported methods remain", "auth"),
    (7, "ERROR : x.mp4: Failed to copy: 401 Unauthorized", "auth"),
    (1, "AccessDenied: Access Denied status code: 403", "auth"),
    (1, "couldn't connect SSH: dial tcp 127.0.0.1:2222: connect: connection refused", "network"),
    (5, "Failed to copy: something odd", "network"),
    (1, "ERROR : x.mp4: Failed to copy: sftp: \"Failure\" (SSH_FX_FAILURE): no space left on device", "quota"),
    (1, "ERROR : Failed to copy: 507 Insufficient Storage", "quota"),
    (1, "QuotaExceeded: the bucket is full", "quota"),
    (2, "directory not found", "other"),
])
def test_classify(code: int, stderr: str, cause: str) -> None:
    assert classify(code, stderr) == cause


def test_last_line_prefers_the_error() -> None:
    err = "NOTICE: Config file not found\nERROR : a.mp4: Failed to copy: 401\nNOTICE: done\n"
    assert last_line(err) == "ERROR : a.mp4: Failed to copy: 401"
    assert last_line("") == ""


def _load(tmp_path: Path, toml: str) -> Config:
    path = tmp_path / "sht.toml"
    path.write_text(toml)
    return load({"SHT_CONFIG": str(path)})


@pytest.mark.parametrize("toml, words", [
    ("[offsite]\nmode = 'some'\n", ["offsite.mode = 'some'", "events | all"]),
    ("[offsite]\nbwlimit = 'fast'\n", ["offsite.bwlimit = 'fast'", "day schedule"]),
    ("[offsite]\nbwlimit = '25:00,1M'\n", ["offsite.bwlimit"]),
    ("[offsite]\nkeep_days = -1\n", ["offsite.keep_days = -1"]),
    ("[offsite]\nmax_lag_minutes = 0\n", ["offsite.max_lag_minutes = 0"]),
])
def test_bad_offsite_values_are_named(tmp_path: Path, toml: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, toml)
    assert all(w in str(err.value) for w in words)


@pytest.mark.parametrize("bwlimit", ["", "1M", "512k:off", "off", "08:00,512k 19:00,off", "Mon-08:00,1M Sat-00:00,off"])
def test_rclone_bandwidth_syntax_accepted(tmp_path: Path, bwlimit: str) -> None:
    cfg = _load(tmp_path, f"[offsite]\nremote = ':local:/tmp/x'\nbwlimit = '{bwlimit}'\n")
    assert cfg.offsite.bwlimit == bwlimit and cfg.offsite.remote == ":local:/tmp/x"
