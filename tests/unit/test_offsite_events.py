"""Segments motion marks as an event's after they were queued (its pre-roll, an event that began
late in a segment): the uploader learns of the mark and sends them as event segments."""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from common.archive.events import EventStore, db_path
from common.archive.offsite_queue import STALE_S, UploadQueue
from common.config import load
from offsite.rclone import Outcome
from offsite.uploader import Uploader
from tests.support.procs import isolated_env

NAMES = ("cam0_20261204_100000.mp4", "cam0_20261204_100030.mp4", "cam0_20261204_100100.mp4")


class _Remote:
    """Takes every file at once and remembers the order; the event files' contents too."""

    def __init__(self) -> None:
        self.all: list[str] = []
        self.contents: dict[str, bytes] = {}

    @property
    def sent(self) -> list[str]:
        return [f for f in self.all if f.endswith(".mp4")]

    def send(self, local: Path, file: str) -> Outcome:
        self.all.append(file)
        if "/events/" in file:
            self.contents[file] = local.read_bytes()
        return Outcome(True)


def _uploader(tmp_path: Path, mode: str) -> tuple[Uploader, _Remote, list[str]]:
    cfg = load(isolated_env(tmp_path / "sht", camera__count=1, offsite__remote=":local:/nowhere", offsite__mode=mode))
    day = cfg.recordings_root / "cam0" / "261204"
    day.mkdir(parents=True)
    for name in NAMES:
        (day / name).write_bytes(b"x" * 100)
    remote = _Remote()
    return Uploader(cfg, rclone=remote), remote, [f"cam0/261204/{n}" for n in NAMES]  # type: ignore[arg-type]


def _event_on(root: Path, files: list[str], thumbnail: bytes | None = None) -> int:
    store = EventStore(db_path(root))
    now = time.time()
    event_id = store.open_event(0, now - 40, 0.0, 5.0, 0.1, None, now - 30)
    store.close_event(event_id, now - 10, 30.0, "quiet", now - 10, 30.0, 0.1, None, now - 20, thumbnail)
    store.set_segments(event_id, files)
    store.close()
    return event_id


def test_events_mode_sends_a_segment_marked_after_it_was_queued(tmp_path: Path) -> None:
    up, remote, files = _uploader(tmp_path, "events")
    assert up.step() is False           # finished, indexed, no event yet: nothing to send
    _event_on(up.root, files[:2])       # motion resolves the event: its pre-roll is the first segment
    up.events_at = -1e9                 # the next look reads the events database
    while up.step():
        pass
    assert sorted(remote.sent) == files[:2]
    up.events_at = -1e9
    assert up.step() is False           # once: a second look sends nothing again
    assert sorted(remote.sent) == files[:2]


def test_all_mode_sends_a_segment_marked_later_before_plain_ones(tmp_path: Path) -> None:
    up, remote, files = _uploader(tmp_path, "all")
    up.follow()                         # all three queued as plain segments
    _event_on(up.root, files[:1])       # the oldest turns out to hold an event
    up.events_at = -1e9
    up.step()                           # the event's metadata
    up.step()
    assert remote.sent == files[:1]


def test_event_mark_waits_for_an_event_without_segments_then_moves_on(tmp_path: Path) -> None:
    q = UploadQueue(tmp_path, mode="events")
    now = 1e9
    q.flag_events([(1, [], now - 5), (2, None, None), (3, [], now - 5)], now=now)
    assert q.event_mark() == 1          # event 2 still open: 3 is read again next time
    q.flag_events([(2, None, now - STALE_S - 1), (3, [], now - 5)], now=now)
    assert q.event_mark() == 3          # 2 ended long ago without segments: it holds nothing back


def test_event_thumbnail_and_metadata_go_once_before_its_segments(tmp_path: Path) -> None:
    up, remote, files = _uploader(tmp_path, "events")
    up.step()
    event_id = _event_on(up.root, files[1:], thumbnail=b"\xff\xd8jpeg")
    up.events_at = -1e9
    while up.step():
        pass
    day = datetime.fromtimestamp(time.time() - 40).strftime("%y%m%d")
    stem = f"cam0/{day}/events/{event_id}"
    assert remote.all[:2] == [f"{stem}.jpg", f"{stem}.json"]
    assert remote.contents[f"{stem}.jpg"] == b"\xff\xd8jpeg"
    meta = json.loads(remote.contents[f"{stem}.json"])
    assert meta["id"] == event_id and meta["camera"] == 0 and meta["segments"] == files[1:]
    up.events_at = -1e9
    assert up.step() is False and len(remote.all) == 4      # once: nothing goes again
    assert list((up.cfg.run_dir / "offsite").iterdir()) == []   # nothing staged is left behind
