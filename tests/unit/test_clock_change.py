"""The autumn clock change: an hour of local time happens twice (Europe/Berlin, 2026-10-25:
at 03:00 summer time the clocks go back to 02:00).  Names stay local time, so the second
02:xx hour is named like the first; health, gaps, ages, where to play an event and which
segments cover it come from true times, so the repeated hour is neither a gap nor an overlap.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common.archive import events as store
from common.archive.index import ArchiveIndex, Recording
from common.clock import utc_offsets
from common.config import Config, load
from common.state.board import StatusBoard
from common.state.controls import Controls
from motion.coverage import covering
from recorder.segments.segmenter import Segmenter
from recorder.segments.writer import free_name
from streamer.archive.events import router as events_router
from streamer.archive.health import health
from streamer.archive.recordings import router as recordings_router
from tests.support.mp4_files import write_mp4
from tests.support.procs import isolated_env

CHANGE = datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC).timestamp()   # 03:00 summer time = 02:00 winter time
SEG_S = 30
FIRST = CHANGE - 3600 - 300        # 01:55 summer time
LAST_END = CHANGE + 3600 + 300     # 03:05 winter time
MIDNIGHT = datetime(2026, 10, 24, 22, 0, 0, tzinfo=UTC).timestamp()   # 00:00 local, summer time


@pytest.fixture(params=["indexed by the recorder", "found on disk"])
def archive(request: pytest.FixtureRequest, tmp_path: Path, berlin: None) -> Iterator[tuple[Config, ArchiveIndex]]:
    """Camera 0 recorded back to back from 01:55 summer time to 03:05 winter time, named as the
    recorder names its segments; the rows are the recorder's, or the files have none (a kill -9
    between the rename and the row: the index finds them)."""
    cfg = load(isolated_env(tmp_path / "sht", camera__count=1))
    root = cfg.recordings_root
    sample = write_mp4(tmp_path / "sample.mp4", SEG_S, fps=1, width=64, height=64)
    segmenter = Segmenter(0, SEG_S, True, 30)
    rows = []
    t = FIRST
    while t < LAST_END:
        path = free_name(root / segmenter.begin(0, int(t * 1e9)).rel_path)   # the recorder's finalise
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample, path)
        os.utime(path, (t + SEG_S, t + SEG_S))          # last written when it ended
        rows.append(Recording(path.relative_to(root).as_posix(), 0, t, float(SEG_S), path.stat().st_size, t + SEG_S))
        t += SEG_S
    index = ArchiveIndex(root)
    if request.param == "indexed by the recorder":
        assert index.add(rows)
    try:
        yield cfg, index
    finally:
        index.close()


def test_names_repeat_the_hour_without_overwriting(archive: tuple[Config, ArchiveIndex]) -> None:
    _, index = archive
    index.refresh()
    names = [r.name for r in index.day(0, "261025")]
    assert len(names) == len(set(names)) == (LAST_END - FIRST) / SEG_S
    assert names.count("cam0_20261025_020000.mp4") == 1 and "cam0_20261025_020001.mp4" in names


def test_health_sees_no_gap_and_the_true_age_across_the_repeated_hour(archive: tuple[Config, ArchiveIndex]) -> None:
    cfg, index = archive
    now = LAST_END + 10
    doc = health(cfg, index, StatusBoard.for_config(cfg), Controls(cfg.run_dir, cameras=1), now=now)
    cam = doc["cameras"]["0"]
    assert cam["gaps_24h"] == []
    assert cam["segments_24h"] == (LAST_END - FIRST) / SEG_S
    assert cam["last_segment"]["age_s"] == pytest.approx(10, abs=1.5)
    assert not [r for r in cam["reasons"] if "gap" in r or "no segment finished" in r], cam["reasons"]


def test_an_event_in_the_second_hour_plays_from_its_segment_at_its_local_time(
        archive: tuple[Config, ArchiveIndex]) -> None:
    cfg, _ = archive
    root = cfg.recordings_root
    start = CHANGE + 1800 + 7                    # 02:30:07 winter time (the second 02:30)
    events = store.EventStore(store.db_path(root))
    eid = events.open_event(0, start, 1.0, 2.0, 3.0, None, start)
    events.close_event(eid, start + 4, 5.0, "quiet", start + 4, 5.0, 3.0, None, start + 1, None)
    events.close()
    app = FastAPI()
    app.state.cfg = cfg
    app.include_router(events_router)
    app.include_router(recordings_router)
    client = TestClient(app)
    ev = client.get(f"/api/events/{eid}").json()
    # 2 s of pre-roll: 02:30:05 winter time, 5 s into the segment that started at the second
    # 02:30:00 (named a second later: its name was taken an hour before).
    assert ev["play"]["file"] == "cam0_20261025_023001.mp4"
    assert ev["play"]["offset_s"] == pytest.approx(5, abs=1.01)
    # The page puts events and segments on one local-time line: the event at 02:30:07, where
    # the segment it plays from is.
    assert ev["date"] == "261025" and ev["start_s"] == pytest.approx(2 * 3600 + 30 * 60 + 7)
    segments = client.get("/api/recordings?camera=0&date=261025").json()["segments"]
    played = next(s for s in segments if s["file"] == ev["play"]["file"])
    assert ev["start_s"] - ev["pre_s"] == pytest.approx(played["start_s"] + ev["play"]["offset_s"], abs=0.01)
    listed = client.get("/api/events?camera=0&date=261025").json()["events"]
    assert [e["start_s"] for e in listed] == [ev["start_s"]]


def test_motion_finds_the_segments_that_cover_an_event_in_the_second_hour(
        archive: tuple[Config, ArchiveIndex]) -> None:
    _, index = archive
    index.refresh()
    start = CHANGE + 1800 + 25                   # 02:30:25 winter time, for 10 s
    assert [Path(f).name for f in covering(index, 0, start, start + 10, SEG_S)] == \
        ["cam0_20261025_023001.mp4", "cam0_20261025_023031.mp4"]
    first = CHANGE - 1800 + 25                   # the same local time an hour before
    assert [Path(f).name for f in covering(index, 0, first, first + 10, SEG_S)] == \
        ["cam0_20261025_023000.mp4", "cam0_20261025_023030.mp4"]


def test_the_page_learns_each_offset_a_recording_was_made_in(berlin: None) -> None:
    """The page shows times in the cameras' zone: one offset for all of them put a recording
    from before the clocks went back an hour off; the page gets every change instead."""
    back = CHANGE
    offsets = utc_offsets(datetime(2026, 11, 20, tzinfo=UTC).timestamp(), back_s=60 * 86400.0)
    assert [o for _, o in offsets] == [7200, 3600]
    assert offsets[1][0] == back
    assert utc_offsets(back + 3600, back_s=3600 * 2, ahead_s=3600)[0][1] == 7200
