"""The ``offsite`` block of /api/health: nothing when off, warnings for lag, failures and losses."""
from __future__ import annotations

from typing import Any

from streamer.archive.health import offsite_health


def _doc(**keys: Any) -> dict[str, Any]:
    doc = {"pid": 42, "age_s": 0.5, "enabled": True, "mode": "all", "state": "up to date", "max_lag_minutes": 10,
           "cameras": {"0": {"newest_file": "cam0/261204/a.mp4", "newest_start": 1.0, "lag_s": 0.0,
                             "backlog_segments": 0, "backlog_bytes": 0}},
           "lost_before_upload": 0, "last_error": "", "last_error_cause": None, "last_error_at": None}
    doc.update(keys)
    return doc


def test_nothing_when_off() -> None:
    assert offsite_health(None) == (None, [])
    assert offsite_health(_doc(enabled=False)) == (None, [])


def test_up_to_date_is_ok() -> None:
    block, warnings = offsite_health(_doc())
    assert warnings == [] and block is not None and block["status"] == "ok"
    assert block["cameras"]["0"]["newest_file"] == "cam0/261204/a.mp4"


def test_backlog_over_max_lag_warns() -> None:
    cams = {"0": {"newest_file": None, "newest_start": None, "lag_s": 11 * 60.0, "backlog_segments": 22,
                  "backlog_bytes": 10**8}}
    _, warnings = offsite_health(_doc(cameras=cams))
    assert warnings == ["off-site copies are 11 min behind (more than 10 min)"]


def test_failure_cause_and_losses_and_a_stopped_uploader_warn() -> None:
    block, warnings = offsite_health(_doc(state="error", last_error="401 Unauthorized", last_error_cause="auth",
                                          lost_before_upload=12))
    assert "off-site copies failing (auth): 401 Unauthorized" in warnings
    assert "12 segments deleted before upload" in warnings and block is not None and block["status"] == "warning"
    block, warnings = offsite_health(_doc(age_s=60.0))
    assert block is not None and block["state"] == "not running" and warnings


def test_block_tells_the_page_the_remote_queue_and_last_success() -> None:
    cams = {str(c): {"newest_file": None, "newest_start": None, "lag_s": 40.0 + c, "backlog_segments": 2 + c,
                     "backlog_bytes": 1000 * (c + 1)} for c in (0, 1)}
    block, _ = offsite_health(_doc(cameras=cams, remote=":sftp,host=nas.local:cctv", last_sent_at=1234.5))
    assert block is not None and block["running"] is True and block["remote"] == ":sftp,host=nas.local:cctv"
    assert (block["queued_segments"], block["queued_bytes"], block["lag_s"]) == (5, 3000, 41.0)
    assert block["last_sent_at"] == 1234.5
    block, _ = offsite_health(_doc(pid=0))
    assert block is not None and block["running"] is False and block["state"] == "not running"
