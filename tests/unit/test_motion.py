"""Motion detection against the scripted synthetic scene, and its parts.

The detector is fed frames straight from the synthetic renderer (overlay included), so
the hour of static scene for the false-event figure takes seconds, not an hour.
"""
from __future__ import annotations

import base64
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import simplejpeg

from capture.sources.synthetic import MotionScript, sd_frames
from common.archive import events as store
from common.archive.index import ArchiveIndex
from common.config import ConfigError, load
from common.state.live_picture import LivePictures
from motion.camera import CameraWatch
from motion.coverage import covering
from motion.detector import Detector, Motion
from motion.tracker import Tracker
from motion.webhook import Webhook
from tests.support.clip_trial import back_and_forth, clip_frames, marked, play
from tests.support.footage import missing, sd_pictures
from tests.support.motion_trial import Picture, run_trial
from tests.support.procs import isolated_env, status_board, unique_prefix, wait_until

MOVING, STILL = Motion(3.0, (1, 2, 3, 4)), Motion(0.0, None)


def _cfg(tmp_path: Path, **env: str):
    (tmp_path / "empty.toml").write_text("")
    return load({"SHT_CONFIG": str(tmp_path / "empty.toml"), **env})


@pytest.mark.slow
def test_scripted_crossings_start_events_within_a_second(tmp_path: Path) -> None:
    # 13.37 s apart: the entries fall at every phase of the 10 fps analysis.
    result = run_trial(_cfg(tmp_path), 600, 13.37)
    assert result.crossings >= 40
    assert result.recall >= 0.95, result
    assert max(result.latencies_s) <= 1.0 and min(result.latencies_s) >= 0.0, result.latencies_s
    assert max(result.confirm_latencies_s) <= 1.0, result.confirm_latencies_s
    assert result.false_events == 0


@pytest.mark.slow
def test_an_hour_of_noisy_static_scene_with_a_cloud_gives_at_most_one_event(tmp_path: Path) -> None:
    result = run_trial(_cfg(tmp_path), 3600, 0)
    assert result.frames == 36000
    assert result.false_events <= 1, result


@pytest.mark.slow
def test_real_clips_marked_entries_are_seen_and_their_empty_stretches_stay_quiet(tmp_path: Path) -> None:
    marks = marked()
    absent = missing([m.clip.file for m in marks])
    if absent:
        pytest.skip(f"the real clips are kept out of the repository: {absent}")
    cfg = _cfg(tmp_path)
    fps = float(cfg.motion.analyse_fps)
    entries = seen = 0
    for m in marks:
        run = play(cfg, sd_pictures(m.clip, fps), m.entries)
        entries, seen = entries + len(m.entries), seen + len(run.seen)
        assert bool(run.listed) == bool(m.entries) and run.late_or_bare == 0, (m.clip.file, run.listed)
        if m.empty is not None:
            quiet = play(cfg, back_and_forth(clip_frames(m.clip, fps, *m.empty), 600, fps, light=True))
            assert quiet.events == [], (m.clip.file, quiet.events)
    assert seen >= 0.95 * entries, (seen, entries)


def test_the_cloud_really_changes_the_light() -> None:
    # The lighting ramp is part of the test: without it, the static trial proves less.
    script = MotionScript(1e12)
    means = [float(y.mean()) for _, y in sd_frames(script, 0.1, 0.0, 80)]
    assert max(means) - min(means) > 20


def test_masks_and_the_overlay_band_are_ignored(tmp_path: Path) -> None:
    script = MotionScript(13.0)
    frames = [y.copy() for _, y in sd_frames(script, 10, 0.0, 4)]
    # The figure walks at rows 400/1.5 .. 570/1.5 of the sd picture: 56-94% of the height.
    for masks, expect in (([], True), ([[0, 50, 100, 50]], False)):
        det = Detector(640, 480, 50, masks, ignore_top_rows=28)
        tracker = Tracker(0.5, 1.0, 300)
        started = False
        for i, y in enumerate(frames):
            started |= tracker.update(i * 100_000_000, 0, det.feed(y)).started is not None
        assert started is expect, masks
    # The clock in the overlay changes every second: not motion once its band is ignored.
    det = Detector(640, 480, 100, [], ignore_top_rows=28)
    still = MotionScript(1e12)
    areas = [det.feed(y).area_percent for _, y in sd_frames(still, 10, 100.0, 5, wall_s=1.8e9 + 0.5)]
    assert max(areas) == 0.0


def test_masks_are_validated_with_the_key_named(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, SHT__MOTION__MASKS="[[[10, 20, 30, 40]], []]")
    assert cfg.motion.masks == [[[10, 20, 30, 40]], []]
    for bad in ("[[[10, 20, 95, 40]]]", "[[10, 20, 30, 40]]", "[[[0, 0, 0, 10]]]"):
        with pytest.raises(ConfigError, match=r"motion\.masks"):
            _cfg(tmp_path, SHT__MOTION__MASKS=bad)
    with pytest.raises(ConfigError, match=r"camera\.synthetic_motion_every"):
        _cfg(tmp_path, SHT__CAMERA__SYNTHETIC_MOTION_EVERY="3")


def test_tracker_holds_an_event_open_for_post_seconds() -> None:
    tr = Tracker(min_area_percent=1.0, post_seconds=2.0, max_event_seconds=300)
    ns = 100_000_000
    assert tr.update(0, 0, MOVING).started is None          # one frame is not an event
    assert tr.update(1 * ns, 0, STILL).started is None
    assert tr.update(2 * ns, 0, MOVING).started is None
    step = tr.update(3 * ns, 0, MOVING)
    assert step.started is not None and step.started.start_mono_ns == 2 * ns
    assert tr.update(3 * ns + 19 * ns, 0, STILL).ended is None
    step = tr.update(3 * ns + 20 * ns, 0, STILL)
    assert step.ended is not None and step.reason == "quiet"
    assert step.ended.end_mono_ns == 3 * ns + 20 * ns       # the last motion + post_seconds


def test_endless_motion_is_cut_into_consecutive_events() -> None:
    tr = Tracker(min_area_percent=1.0, post_seconds=2.0, max_event_seconds=300)
    ns = 100_000_000
    events = []
    for i in range(7000):                                     # 700 s of motion at 10 fps
        step = tr.update(i * ns, 5 * 10**18 + i * ns, MOVING)
        if step.ended is not None:
            assert step.reason == "max length" and step.started is not None
            events.append(step.ended)
        if step.started is not None:
            step.started.event_id = 100 + len(events)
    last = tr.close()
    assert last is not None
    events.append(last)
    starts = [e.start_mono_ns / 1e9 for e in events]
    assert starts == [0.0, 300.0, 600.0]
    for before, after in itertools.pairwise(events):
        # The next one starts at the very frame the previous one ends: no motion between them.
        assert (before.end_mono_ns, before.end_wall_ns) == (after.start_mono_ns, after.start_wall_ns)
        assert after.continues == before.event_id and after.peak_area == MOVING.area_percent


def test_a_cut_waits_for_motion_and_a_quiet_end_needs_none() -> None:
    tr = Tracker(min_area_percent=1.0, post_seconds=2.0, max_event_seconds=10)
    s = 1_000_000_000
    for half in range(20):                                    # motion from 0 to 9.5 s
        tr.update(half * s // 2, 0, MOVING)
    step = tr.update(10_500_000_000, 0, STILL)                # past 10 s, but no motion: no cut
    assert step.ended is None and tr.event is not None
    step = tr.update(11_500_000_000, 0, STILL)                # post_seconds after the last motion
    assert step.ended is not None and step.reason == "quiet" and step.started is None
    assert step.ended.end_mono_ns == 11_500_000_000


def _block_scene(seconds: float, fps: float, size: Callable[[float], int] = lambda t: 80,
                 t0: float = 1000.0) -> Iterator[Picture]:
    """A grey picture with a bright square that never stops moving (its side: ``size(t)``)."""
    u = np.full((240, 320), 128, np.uint8)
    for i in range(int(seconds * fps)):
        t = t0 + i / fps
        y = np.full((480, 640), 90, np.uint8)
        side = size(t)
        x0 = int(40 + (i * 7) % (560 - side))
        y[200:200 + side, x0:x0 + side] = 220
        yield Picture(int(t * 1e9), int((1.8e9 + t) * 1e9), y, u, u)


def _watch(tmp_path: Path, on_start: Callable[[dict], None] | None = None,
           **motion: object) -> tuple[CameraWatch, store.EventStore]:
    env = isolated_env(tmp_path / "sht", **{f"motion__{k}": v for k, v in motion.items()})
    es = store.EventStore(store.db_path(tmp_path))
    return CameraWatch(load(env), 0, es, on_start), es


def _rows(es: store.EventStore) -> list[dict]:
    return store.list_events(es.conn, 0, 0, 1e12)[::-1]


def test_an_event_has_its_thumbnail_as_soon_as_it_is_listed_and_it_follows_the_peak(tmp_path: Path) -> None:
    watch, es = _watch(tmp_path, post_seconds=2)
    # The square is small for 3 s, then four times as large: the peak is then.
    seen_open, stored_open = [], set()
    for pic in _block_scene(9, 10, lambda t: 40 if t < 1003 else 160):   # a new picture within 5 s
        watch.analyse(pic)
        for row in _rows(es):
            live = watch.pictures.get(0, row["id"])
            # Open: its picture is in memory (the list's address serves it); ended: in the database.
            assert live is not None if row["open"] else row["has_thumbnail"], ("listed without a picture", row)
            if row["open"]:
                stored_open.add(store.get_thumbnail(es.conn, row["id"]))
                seen_open.append((pic.mono_ns / 1e9, live))
    assert seen_open and seen_open[0][0] - 1000 <= 2.0          # it was listed within 2 s of the scene start
    first, latest = seen_open[0][1], seen_open[-1][1]
    assert first is not None and latest is not None
    for jpeg in (first, latest):
        assert simplejpeg.decode_jpeg_header(jpeg)[:2] == (240, 320)
    assert latest != first                                     # shown again at the larger peak
    assert stored_open == {None}                               # ... from memory: nothing written while open
    watch.stop()
    eid = _rows(es)[0]["id"]
    final = store.get_thumbnail(es.conn, eid)                  # the end stores the peak's, memory lets go
    assert final != first and watch.pictures.get(0, eid) is None
    assert (simplejpeg.decode_jpeg(final, colorspace="GRAY") > 180).sum() > 4 * (
        simplejpeg.decode_jpeg(first, colorspace="GRAY") > 180).sum()
    small = simplejpeg.decode_jpeg(first, colorspace="GRAY")
    large = simplejpeg.decode_jpeg(latest, colorspace="GRAY")
    assert (large > 180).sum() > 4 * (small > 180).sum()
    row = _rows(es)[0]
    assert row["peak_wall"] >= 1.8e9 + 1003 and row["peak_area_percent"] > 5
    es.close()


def test_a_long_busy_stretch_is_cut_into_consecutive_events_with_pictures(tmp_path: Path) -> None:
    told: list[dict] = []
    watch, es = _watch(tmp_path, told.append, max_event_seconds=10, post_seconds=2)
    for pic in _block_scene(35, 10):
        watch.analyse(pic)
    watch.stop()
    rows = _rows(es)
    # The webhook hears of each start, and of what a continuation continues.
    assert [(d["id"], d["continues"]) for d in told] == [(r["id"], p["id"] if p else None)
                                                          for p, r in zip([None, *rows], rows, strict=False)]
    assert len(rows) == 4 and [r["closed"] for r in rows] == ["max length"] * 3 + ["stop"]
    for before, after in itertools.pairwise(rows):
        assert before["end_wall"] == after["start_wall"], (before, after)
        assert 10.0 <= before["end_wall"] - before["start_wall"] <= 10.2   # the first moving frame past 10 s
    assert all(r["has_thumbnail"] for r in rows)
    es.close()


def test_max_event_seconds_is_a_setting_with_its_range(tmp_path: Path) -> None:
    assert _cfg(tmp_path).motion.max_event_seconds == 300
    assert _cfg(tmp_path, SHT__MOTION__MAX_EVENT_SECONDS="60").motion.max_event_seconds == 60
    with pytest.raises(ConfigError, match=r"motion\.max_event_seconds"):
        _cfg(tmp_path, SHT__MOTION__MAX_EVENT_SECONDS="5")


def test_store_survives_reopen_closes_orphans_and_prunes(tmp_path: Path) -> None:
    db = store.db_path(tmp_path)
    s = store.EventStore(db)
    a = s.open_event(0, 1000.0, 5.0, 2.0, 1.5, (1, 2, 3, 4), 1000.0)
    s.touch(a, 1004.0, 9.0, 2.5, (5, 6, 7, 8), 1003.0)
    b = s.open_event(1, 2000.0, 50.0, 2.0, 1.0, None, 2000.0)
    s.close_event(b, 2010.0, 60.0, "quiet", 2005.0, 55.0, 3.0, None, 2004.0, b"\xff\xd8jpeg")
    s.set_segments(b, ["cam1/261201/cam1_20261201_000000.mp4"])
    s.conn.close()  # as if killed: the open event stays open in the file
    s = store.EventStore(db)
    assert s.close_orphans() == 1
    conn = store.connect(db)
    ev = store.get_event(conn, a)
    assert ev["end_wall"] == 1004.0 and ev["closed"] == "restart" and ev["bbox_percent"] == [5, 6, 7, 8]
    assert store.get_thumbnail(conn, b) == b"\xff\xd8jpeg"
    assert store.event_files(conn) == {"cam1/261201/cam1_20261201_000000.mp4"}
    assert store.mark_deleted(conn, "cam1/261201/cam1_20261201_000000.mp4") == 1
    assert store.get_event(conn, b)["video_deleted"] is True
    assert [e["id"] for e in store.list_events(conn, None, 0, 1e10)] == [b, a]   # newest first
    assert [e["id"] for e in store.list_events(conn, 0, 0, 1e10)] == [a]
    assert s.prune(keep_days=1, now=2000.0 + 86400 * 2) == 1                  # b: video gone and old
    assert store.get_event(conn, b) is None and store.event_files(conn) == set()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_events_picture_is_written_once_not_again_with_each_change_of_the_event(tmp_path: Path) -> None:
    db = store.db_path(tmp_path)
    s = store.EventStore(db)
    picture = b"\xff\xd8" + bytes(range(256)) * 120   # 30 kB
    eid = s.open_event(0, 1000.0, 5.0, 2.0, 1.5, (1, 2, 3, 4), 1000.0, picture)
    wal = Path(f"{db}-wal")
    before = wal.stat().st_size
    for i in range(5):   # progress, the end, the segments: the row changes, the picture does not
        s.touch(eid, 1001.0 + i, 6.0 + i, 2.0 + i, (1, 2, 3, 4 + i), 1001.0 + i)
    s.close_event(eid, 1010.0, 15.0, "quiet", 1008.0, 13.0, 9.0, None, 1007.0, None)
    s.set_segments(eid, ["cam0/261201/cam0_20261201_000000.mp4"])
    # Seven commits of a small row and its pages: a few kB each, not the picture again each time.
    assert wal.stat().st_size - before < 7 * 4 * store.PAGE_BYTES + len(picture) // 2
    conn = store.connect(db)
    assert store.get_thumbnail(conn, eid) == picture and store.get_event(conn, eid)["has_thumbnail"] is True
    s.close_event(eid, 1010.0, 15.0, "quiet", 1008.0, 13.0, 9.0, None, 1007.0, b"\xff\xd8later")
    assert store.get_thumbnail(conn, eid) == b"\xff\xd8later"
    s.close()


def test_a_picture_stored_in_the_row_by_an_earlier_version_is_still_served(tmp_path: Path) -> None:
    db = store.db_path(tmp_path)
    s = store.EventStore(db)
    eid = s.open_event(0, 1000.0, 5.0, 2.0, 1.5, None, 1000.0)
    s.conn.execute("DROP TABLE thumbnails")   # as an earlier version left the file
    s.conn.execute("UPDATE events SET thumbnail = ? WHERE id = ?", (b"\xff\xd8old", eid))
    s.close()
    conn = store.connect(db)   # a reader (motion may be off): the file gets the new table
    assert store.get_event(conn, eid)["has_thumbnail"] is True
    assert store.get_thumbnail(conn, eid) == b"\xff\xd8old"


def test_store_keeps_at_most_max_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "MAX_EVENTS", 5)
    s = store.EventStore(store.db_path(tmp_path))
    ids = [s.open_event(0, 1000.0 + i, 0.0, 0.0, 1.0, None, 0.0) for i in range(8)]
    s.prune(keep_days=7, now=2000.0)
    assert [e["id"] for e in store.list_events(s.conn, None, 0, 1e10)] == ids[::-1][:5]


def test_pruning_drops_an_events_links_and_keeps_at_most_max_pictures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An event dropped takes its segment links and picture along, and only its own; beyond
    MAX_PICTURES the oldest events lose their pictures but stay listed."""
    monkeypatch.setattr(store, "MAX_EVENTS", 6)
    monkeypatch.setattr(store, "MAX_PICTURES", 3)
    s = store.EventStore(store.db_path(tmp_path))
    ids = [s.open_event(0, 1000.0 + i, 0.0, 0.0, 1.0, None, 0.0, b"\xff\xd8%d" % i) for i in range(8)]
    for i, eid in enumerate(ids):
        s.set_segments(eid, [f"cam0/261201/cam0_20261201_10000{i}.mp4", "cam0/261201/shared.mp4"])
    s.prune(keep_days=7, now=2000.0)
    kept = ids[2:]
    assert [e["id"] for e in store.list_events(s.conn, None, 0, 1e10)] == kept[::-1]
    links = s.conn.execute("SELECT event_id, file FROM event_segments ORDER BY event_id, file").fetchall()
    assert links == [(eid, f) for i, eid in enumerate(ids) if eid in kept
                     for f in sorted([f"cam0/261201/cam0_20261201_10000{i}.mp4", "cam0/261201/shared.mp4"])]
    assert [store.get_thumbnail(s.conn, eid) for eid in kept] == [None] * 3 + [b"\xff\xd8%d" % i for i in (5, 6, 7)]
    assert [e["has_thumbnail"] for e in store.list_events(s.conn, None, 0, 1e10)] == [True] * 3 + [False] * 3
    s.close()


def test_covering_segments_follow_the_names(tmp_path: Path) -> None:
    from datetime import datetime
    day = tmp_path / "cam0" / "261201"
    day.mkdir(parents=True)
    names = ["cam0_20261201_100000.mp4", "cam0_20261201_100030.mp4", "cam0_20261201_100100.mp4",
             "cam0_20261201_110000.mp4", ".cam0_20261201_110030.mp4.part", "cam1_20261201_100000.mp4"]
    for n in names:
        (day / n).write_bytes(b"x")
    t = datetime(2026, 12, 1, 10, 0, 0).timestamp()
    rel = "cam0/261201/"
    index = ArchiveIndex(tmp_path)
    index.refresh()
    assert covering(index, 0, t + 25, t + 40, 30) == [rel + names[0], rel + names[1]]
    assert covering(index, 0, t + 95, t + 100, 30) == []                        # a gap in the recording
    assert covering(index, 0, t + 3600 + 10, t + 3600 + 50, 30) == [rel + names[3]]  # the .part is not yet a segment


class _Sink(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    fail_first = 0
    attempts = 0
    asked: ClassVar[list[tuple[str, str | None]]] = []   # (path, Authorization) of each request

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Sink.attempts += 1
        _Sink.asked.append((self.path, self.headers.get("Authorization")))
        if _Sink.fail_first > 0:
            _Sink.fail_first -= 1
            self.send_response(500)
            self.end_headers()
            return
        _Sink.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_webhook_retries_and_never_blocks() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Sink.received, _Sink.fail_first = [], 2
    hook = Webhook(f"http://127.0.0.1:{server.server_port}/hook")
    try:
        hook.post({"event": "start", "id": 7})
        # (the receiver has the body before the sender has read the answer and counted it)
        wait_until(lambda: _Sink.received and hook.sent, 10)
        assert _Sink.received == [{"event": "start", "id": 7}] and hook.sent == 1
        # A receiver that always fails: one try and 3 retries, then the event is given up.
        _Sink.received, _Sink.fail_first, _Sink.attempts = [], 100, 0
        hook.post({"event": "start", "id": 8})
        wait_until(lambda: hook.failed == 1, 15)
        assert _Sink.attempts == 4 and _Sink.received == []
    finally:
        hook.close()
        server.shutdown()
    # A receiver that never answers: posting still returns at once, and the queue is bounded.
    silent = Webhook("http://127.0.0.1:9/unreachable")
    try:
        import time
        t0 = time.monotonic()
        for i in range(100):
            silent.post({"id": i})
        assert time.monotonic() - t0 < 0.1
        assert len(silent._queue) <= 16
    finally:
        silent.close()


def test_webhook_credentials_go_in_a_header_and_never_to_the_log(caplog: pytest.LogCaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("motion.webhook.BACKOFF_S", (0.0, 0.0, 0.0))
    server = HTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Sink.received, _Sink.fail_first, _Sink.asked = [], 0, []
    port = server.server_port
    hook = Webhook(f"http://ann:s3cr%40t@127.0.0.1:{port}/hook/TOKEN123?key=KEY456")
    try:
        hook.post({"event": "start", "id": 1})
        wait_until(lambda: hook.sent, 10)
        assert _Sink.asked == [("/hook/TOKEN123?key=KEY456", "Basic " + base64.b64encode(b"ann:s3cr@t").decode())]
        _Sink.fail_first = 100
        with caplog.at_level(logging.WARNING, logger="motion"):
            hook.post({"event": "start", "id": 2})
            wait_until(lambda: hook.failed == 1, 10)
    finally:
        hook.close()
        server.shutdown()
    assert f"webhook http://127.0.0.1:{port}/...: event 2 not delivered" in caplog.text
    for secret in ("ann", "s3cr", "TOKEN123", "KEY456"):
        assert secret not in caplog.text
    unreadable = Webhook("http://[::1/x")
    unreadable.close()
    assert unreadable.shown == "(an unreadable URL)"


def test_detector_works_on_a_quarter_grid() -> None:
    # The benchmark measures the CPU; what keeps it low is this 160x120 grid.
    det = Detector(640, 480)
    det.feed(np.zeros((480, 640), np.uint8))
    assert det.bg is not None and det.bg.shape == (120, 160)


class _Frames:
    """A ring reader whose every frame moves, 10 a second from ``t0``."""

    def __init__(self, t0: float) -> None:
        self.t0, self.index, self.error = t0, 0, ""
        self.y = np.zeros((480, 640), np.uint8)
        self.uv = np.zeros((240, 320), np.uint8)

    def latest(self):
        self.index += 1
        t_ns = int((self.t0 + self.index / 10) * 1e9)
        frame = type("F", (), {})()
        frame.index, frame.incarnation, frame.mono_ns, frame.wall_ns = self.index, 1, t_ns, t_ns
        frame.y, frame.u, frame.v, frame.valid = self.y, self.uv, self.uv, lambda: True
        return frame

    def close(self) -> None:
        pass


def test_an_open_event_is_written_every_five_minutes_and_published_every_second(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eleven minutes of motion in one event: two progress writes to the database (an SD card),
    not 660; the status in memory has the event's progress to the last frame."""
    from motion import camera
    s = store.EventStore(store.db_path(tmp_path))
    watch = camera.CameraWatch(_cfg(tmp_path, SHT__RING__PREFIX=unique_prefix(),
                                    SHT__MOTION__MAX_EVENT_SECONDS="3600"), 0, s)
    watch.reader.close()
    frames = watch.reader = _Frames(1000.0)
    monkeypatch.setattr(camera.time, "monotonic", lambda: frames.t0 + frames.index / 10)
    monkeypatch.setattr(watch.detector, "feed", lambda y: Motion(5.0, (10.0, 10.0, 20.0, 20.0)))
    touches: list[tuple] = []
    monkeypatch.setattr(s, "touch", lambda *args: touches.append(args))
    for _ in range(6600):   # 660 s of frames
        watch.tick()
    assert [round(t[1]) for t in touches] == [1300, 1600]
    progress = watch.status()["progress"]
    assert progress is not None and progress["last_wall"] == pytest.approx(1000.0 + 6600 / 10)


def test_a_restart_after_kill_9_takes_the_open_event_to_its_last_published_progress(tmp_path: Path) -> None:
    """The database has an open event's progress once a minute; the status published every
    second (in memory, it outlives a killed process) brings it up to date before it is closed."""
    from motion.__main__ import MotionService
    env = isolated_env(tmp_path / "sht")
    cfg = load(env)
    cfg.recordings_root.mkdir(parents=True)
    s = store.EventStore(store.db_path(cfg.recordings_root))
    eid = s.open_event(0, 1000.0, 5.0, 2.0, 1.5, (1, 2, 3, 4), 1000.0)
    s.touch(eid, 1030.0, 35.0, 2.0, (1, 2, 3, 4), 1020.0, b"\xff\xd8first")   # the last write to the database
    s.close()
    pictures = LivePictures(cfg.run_dir, cfg.ring.prefix)
    pictures.put(0, eid, b"\xff\xd8newest")                  # in memory: the picture of its peak
    progress = {"event_id": eid, "last_wall": 1059.0, "last_mono": 64.0, "peak_area": 9.5,
                "bbox": [5.0, 6.0, 7.0, 8.0], "peak_wall": 1055.0}    # a second before the kill
    status_board(env).publish("motion", {"pid": 1, "cameras": {"0": {"open": True, "event_id": eid,
                                                                      "progress": progress}}})
    service = MotionService(cfg)
    try:
        ev = store.get_event(service.store.conn, eid)
    finally:
        for watch in service.watches:
            watch.stop()
        service.store.close()
    assert ev["closed"] == "restart" and ev["end_wall"] == 1059.0 and ev["peak_area_percent"] == 9.5
    assert ev["bbox_percent"] == [5, 6, 7, 8]
    assert store.get_thumbnail(store.connect(store.db_path(cfg.recordings_root)), eid) == b"\xff\xd8newest"
    assert pictures.get(0, eid) is None
