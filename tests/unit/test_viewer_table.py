"""The viewer table shared by the workers: admission by address, pools and kinds, expiry, bounds."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

from streamer.live.viewers import MAX_ROWS, ViewerTable

LIMITS = {"480p": 2, "720p": 2, "h264": 1}


def _row(address: str, res: str = "480p", conn: str | None = None) -> dict:
    kind = "h264" if res == "h264" else "mjpeg"
    return {"address": address, "kind": kind, "res": res, "view": "dual", "conn": conn or uuid.uuid4().hex}


def test_viewer_table_counts_addresses_not_connections(tmp_path):
    table = ViewerTable(tmp_path, "viewers.json", LIMITS)
    assert table.admit(_row("10.0.0.1")).ok
    assert table.admit(_row("10.0.0.1")).ok            # same address: still one viewer
    assert table.admit(_row("10.0.0.2")).ok
    refused = table.admit(_row("10.0.0.3"))
    assert not refused.ok and refused.holders == 2 and refused.limit == 2 and not refused.per_address
    assert table.admit(_row("10.0.0.3", "720p")).ok     # other resolution, other slots
    assert table.counts() == {"480p": 2, "720p": 1, "h264": 0}


def test_each_pool_has_its_own_limit(tmp_path):
    table = ViewerTable(tmp_path, "viewers.json", LIMITS)
    assert table.admit(_row("10.0.0.1", "h264")).ok
    refused = table.admit(_row("10.0.0.2", "h264"))
    assert not refused.ok and (refused.pool, refused.limit, refused.holders) == ("h264", 1, 1)
    assert table.admit(_row("10.0.0.2", "480p")).ok     # MJPEG slots are other slots


def test_the_address_cap_counts_both_kinds_together(tmp_path):
    table = ViewerTable(tmp_path, "viewers.json", {**LIMITS, "h264": 4}, per_address=3)
    assert table.admit(_row("10.0.0.1", "480p")).ok
    assert table.admit(_row("10.0.0.1", "720p")).ok
    assert table.admit(_row("10.0.0.1", "h264")).ok
    refused = table.admit(_row("10.0.0.1", "h264"))
    assert not refused.ok and refused.per_address and (refused.limit, refused.streams) == (3, 3)
    assert table.admit(_row("10.0.0.2", "h264")).ok     # another address has its own


def test_viewer_table_forgets_silent_rows_and_dead_workers(tmp_path):
    table = ViewerTable(tmp_path, "viewers.json", {"480p": 1})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = time.monotonic()
    data = {"viewers": [{**_row("10.0.0.1"), "pid": os.getpid(), "last_seen": now - 5},   # not refreshed
                        {**_row("10.0.0.2"), "pid": gone.pid, "last_seen": now},          # worker died
                        {**_row("10.0.0.3"), "pid": os.getpid(), "last_seen": now + 50},  # before a reboot
                        {"address": "10.0.0.5", "res": "480p", "pid": os.getpid(), "last_seen": now}],  # no kind
            "workers": {}}
    (tmp_path / "viewers.json").write_text(json.dumps(data))
    assert table.counts() == {"480p": 0}
    assert table.admit(_row("10.0.0.4")).ok


def test_viewer_table_sync_and_remove(tmp_path):
    table = ViewerTable(tmp_path, "viewers.json", LIMITS)
    table.admit(_row("10.0.0.1", conn="a"))
    table.admit(_row("10.0.0.2", conn="b"))
    table.sync([_row("10.0.0.1", conn="a")], [{"view": "dual", "res": "480p"}])
    data = table.read()
    assert [r["conn"] for r in data["viewers"]] == ["a"] and str(os.getpid()) in data["workers"]
    table.remove("a")
    assert table.read()["viewers"] == []


def test_viewer_table_is_bounded(tmp_path):
    table = ViewerTable(tmp_path, "viewers.json", LIMITS)
    results = [table.admit(_row("10.0.0.1")).ok for _ in range(MAX_ROWS + 5)]
    assert results.count(True) == MAX_ROWS and len(table.read()["viewers"]) == MAX_ROWS
