"""The motion events database on a small disk: its write-ahead log stays small."""
from __future__ import annotations

import os
from pathlib import Path

from common.archive import events as store

THUMBNAIL = os.urandom(15_000)   # about one JPEG of an event's picture


def test_the_wal_of_a_busy_events_database_stays_near_its_bound(tmp_path: Path) -> None:
    # A busy scene: events open, report progress with a new picture, close; a few MB of them.
    s = store.EventStore(store.db_path(tmp_path))
    wal = Path(str(store.db_path(tmp_path)) + "-wal")
    largest = 0
    try:
        for n in range(100):
            event = s.open_event(n % 2, 1000.0 + n, 10.0 + n, 1.0, 0.1, (0, 0, 1, 1), 1000.0 + n, THUMBNAIL)
            s.touch(event, 1002.0 + n, 12.0 + n, 0.2, (0, 0, 1, 1), 1002.0 + n, THUMBNAIL)
            s.close_event(event, 1004.0 + n, 14.0 + n, "stop", 1004.0 + n, 14.0 + n, 0.2, (0, 0, 1, 1), 1002.0 + n,
                          THUMBNAIL)
            largest = max(largest, wal.stat().st_size)
    finally:
        s.close()
    # A checkpoint may come a transaction after the bound is reached: one thumbnail's pages of slack.
    assert largest <= store.WAL_BYTES + 64 * 1024, f"the WAL reached {largest} bytes"
