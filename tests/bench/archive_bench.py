"""The archive index at a month of two cameras: what retention, the recordings page and health cost.

    python -m tests.bench.archive_bench [--quick]

A recordings root in a temporary folder on the real file system gets two cameras of 30 s
segments back to back up to now: 85,000 each, 170,000 in all (a month; --quick: a week,
34,000).  The files are empty (their rows say 4.5 MB): once a file has its row nothing opens it,
but retention deletes files and a refresh stats folders, so they must exist.  The rows are added as the
recorders add them (true start, duration, size, modification time).  The events database
holds an event every 20 minutes of each camera, two segments each.

Measured, each the median of repeated runs:

- retention's query: the oldest segments to delete, a page of them with the event flag;
- a whole retention pass under the default rule (``DiskGuard.check``: refresh, each camera's
  24 h window, the oldest plain and event segments outside it, delete one and its row) of a
  recorder's long-lived guard, before the events database exists and with it; the pass that
  also counts everything in full (the event share, the status's figures: every
  ``RECOUNT_S``); the same two with an event on every other segment;
- ``GET /api/recordings?camera=0&date=`` of a full day and ``GET /api/recordings/days``
  through the app's routes; ``/api/health``'s function for both cameras;
- a refresh when nothing changed and after one new segment; a recorder's full refresh
  of its camera at start; building the index again from the files alone;
- the database's size.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from itertools import islice
from pathlib import Path

from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone

SECTION = "archive"
SEGMENT_S = 30
SEGMENT_BYTES = 4_500_000   # each row's size, as a 720p segment of the synthetic scene (the files are empty)
RETENTION_TARGET_MS = 50.0
DAY_TARGET_MS = 100.0
HEALTH_TARGET_MS = 200.0
EVENT_EVERY_S = 1200
PAGE = 100             # retention's first look: this many of the oldest


def _ms(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def _build(root: Path, per_camera: int, now: float) -> tuple[float, str]:
    """Files and rows of two cameras, ending at ``now``; returns the first start and a full day's folder."""
    from common.archive import segment_name
    from common.archive.index import ArchiveIndex, Recording

    first = (now // SEGMENT_S - per_camera) * SEGMENT_S
    index = ArchiveIndex(root, busy_ms=5000)
    batch: list[Recording] = []
    for i in range(per_camera):
        t = first + i * SEGMENT_S
        for cam in (0, 1):
            rel = segment_name.for_start(cam, datetime.fromtimestamp(t)).rel_path
            path = root / rel
            if not path.parent.is_dir():
                path.parent.mkdir(parents=True)
            os.mknod(path, 0o644)   # (its mtime is not used: the row has the recorder's)
            batch.append(Recording(str(rel), cam, t + 0.013, SEGMENT_S - 0.033, SEGMENT_BYTES, t + SEGMENT_S))
        if len(batch) >= 2000:
            assert index.add(batch)
            batch = []
    assert index.add(batch)
    index.close()
    days = sorted({segment_name.day_folder(datetime.fromtimestamp(first + i * SEGMENT_S))
                   for i in range(0, per_camera, 2880)})
    return first, days[len(days) // 2]


def _events(root: Path, first: float, now: float, every_s: float = EVENT_EVERY_S, spans: int = 2) -> int:
    """An event every ``every_s`` of each camera, in ``spans`` segments each (a new database)."""
    from common.archive import events as store
    from common.archive import segment_name

    for p in root.glob(f"{store.DB_NAME}*"):
        p.unlink()
    st = store.EventStore(store.db_path(root))
    st.close()
    rows, links = [], []
    t, eid = first + every_s, 0
    while t < now - SEGMENT_S:
        for cam in (0, 1):
            eid += 1
            rows.append((eid, cam, t, 0.0, t + 20, 0.0, t + 20, 0.0))
            for k in range(spans):
                start = (t // SEGMENT_S + k) * SEGMENT_S
                links.append((str(segment_name.for_start(cam, datetime.fromtimestamp(start)).rel_path), eid))
        t += every_s
    with sqlite3.connect(store.db_path(root)) as conn:
        conn.executemany("INSERT INTO events (id, camera, start_wall, start_mono, end_wall, end_mono, last_wall, "
                         "last_mono) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO event_segments (file, event_id) VALUES (?, ?)", links)
    return eid


def _storage_bytes() -> int:
    """Bytes this process has made the storage write so far (pages of the page cache it dirtied)."""
    with open("/proc/self/io") as fh:
        for line in fh:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def _written_per_segment(root: Path, reader: object, after: float, count: int) -> list[float]:
    """kB of storage pages one finished segment costs the archive index: its recorder adds the
    row, then a retention pass refreshes (the folder changed long enough ago to be settled).
    Every page of the database's files is written back first, as the kernel has done by the
    next segment 30 s later, so each page dirtied counts once, as on a running system."""
    from common.archive import segment_name
    from common.archive.index import DB_NAME, RACY_NS, ArchiveIndex, Recording

    assert isinstance(reader, ArchiveIndex)
    recorder = ArchiveIndex(root)

    def written_back() -> None:
        for p in root.glob(f"{DB_NAME}*"):
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    took = []
    for k in range(count):
        t = after + SEGMENT_S * (k + 1)
        rel = segment_name.for_start(1, datetime.fromtimestamp(t)).rel_path
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(path, 0o644)
        settled = time.time_ns() - 2 * RACY_NS
        os.utime(path.parent, ns=(settled, settled))
        written_back()
        before = _storage_bytes()
        assert recorder.add([Recording(str(rel), 1, t + 0.013, SEGMENT_S - 0.033, SEGMENT_BYTES, t + SEGMENT_S)])
        reader.refresh()
        written_back()
        took.append((_storage_bytes() - before) / 1000)
    recorder.close()
    return took


def _passes(root: Path, count: int, recount: bool = False) -> list[float]:
    """Retention passes (ms) of one recorder's guard under the default rule, each deleting one
    segment; ``recount``: each one also counts everything in full, as one pass every RECOUNT_S does."""
    from common.config.sections import RecorderSection
    from recorder.retention.diskguard import DiskGuard
    from recorder.retention.policy import GB, Limits

    limits = Limits.of(RecorderSection(disk_warn_gb=0.0, free_floor_gb=1.0, free_target_gb=2.0))
    before = 0

    def free(_: Path) -> int:   # under the floor until this pass has deleted a segment
        return limits.target + 1 if guard.state.deleted_count > before else limits.floor - 1

    guard = DiskGuard(root, limits, free_bytes=free)
    took = []
    for i in range(count + 1):
        before = guard.state.deleted_count
        if recount:
            guard._counted_at = None
        ms = _ms(guard.check)
        assert guard.state.deleted_count == before + 1 and guard.state.retention == "ok", guard.state
        if i:
            took.append(ms)   # (the first opens the guard's connection and counts in full)
    guard.index.close()
    assert guard.state.free_bytes > GB
    return took


def run(quick: bool) -> list[Figure]:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    import streamer.archive.recordings as recordings
    from common.archive.index import DB_NAME, RACY_NS, ArchiveIndex
    from common.config import load
    from common.state.board import StatusBoard
    from common.state.controls import Controls
    from streamer.archive.health import health
    from tests.support.procs import isolated_env

    per_camera = 17_000 if quick else 85_000
    repeats = 5 if quick else 9
    rows = 2 * per_camera
    scale = f"{rows:,} segments".replace(",", " ")
    tmp = Path(tempfile.mkdtemp(prefix="sht-bench-archive-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    try:
        root = tmp / "rec"
        now = time.time()
        t0 = time.perf_counter()
        first, day = _build(root, per_camera, now)
        build_s = time.perf_counter() - t0
        figs: list[Figure] = []
        time.sleep(RACY_NS / 1e9)
        plain = _passes(root, repeats)
        figs.append(summarise(SECTION, f"retention pass, no events database ({scale})", plain, "ms",
                              f"<= {RETENTION_TARGET_MS:g} ms", lambda v: v <= RETENTION_TARGET_MS,
                              note="DiskGuard.check, default rule: refresh, windows, oldest outside them, "
                                   "unlink, row removed"))
        events = _events(root, first, now)
        # Settled, as a running system's folders are (all but today's changed long ago): a folder
        # listed while its last change is recent is listed again at the next refresh.
        time.sleep(RACY_NS / 1e9)
        index = ArchiveIndex(root)
        index.refresh()
        figs.append(summarise(SECTION, f"refresh, nothing changed ({scale})",
                              [_ms(index.refresh) for _ in range(repeats)], "ms", note="stats the day folders"))
        query = [_ms(lambda: list(islice(index.oldest_first(), PAGE))) for _ in range(repeats)]
        figs.append(summarise(SECTION, f"retention: the {PAGE} oldest, with event flags ({scale})", query, "ms",
                              f"<= {RETENTION_TARGET_MS:g} ms", lambda v: v <= RETENTION_TARGET_MS,
                              note=f"{events} events in the events database"))
        held = _passes(root, repeats)
        figs.append(summarise(SECTION, f"retention pass, with events ({scale})", held, "ms",
                              f"<= {RETENTION_TARGET_MS:g} ms", lambda v: v <= RETENTION_TARGET_MS,
                              note=f"{events} events, 2 segments each; the event share kept up between counts"))
        counted = _passes(root, max(2, repeats // 3), recount=True)
        figs.append(summarise(SECTION, f"retention pass with the full count, with events ({scale})", counted, "ms",
                              note="one pass every RECOUNT_S: the event share and the status's figures counted"))

        app = FastAPI()
        cfg = load(isolated_env(tmp / "sht", recorder__root=str(root)))
        app.state.cfg = cfg
        app.include_router(recordings.router)
        with TestClient(app) as client:
            r = client.get(f"/api/recordings?camera=0&date={day}")   # the app's index opened
            assert r.status_code == 200 and len(r.json()["segments"]) == 2880, r.text[:200]
            got = [_ms(lambda: client.get(f"/api/recordings?camera=0&date={day}")) for _ in range(repeats)]
            figs.append(summarise(SECTION, f"GET /api/recordings, a full day ({scale})", got, "ms",
                                  f"<= {DAY_TARGET_MS:g} ms", lambda v: v <= DAY_TARGET_MS,
                                  note=f"2880 segments, {len(r.content) / 1000:.0f} kB of JSON; refresh included"))
            got = [_ms(lambda: client.get("/api/recordings/days")) for _ in range(repeats)]
            figs.append(summarise(SECTION, f"GET /api/recordings/days ({scale})", got, "ms"))

        board, controls = StatusBoard.for_config(cfg), Controls(cfg.run_dir, "single", "720p", cfg.camera.count)
        doc = health(cfg, index, board, controls, now=now)
        assert doc["cameras"]["0"]["segments_24h"] >= 2879, doc["cameras"]["0"]["segments_24h"]
        got = [_ms(lambda: health(cfg, index, board, controls, now=now)) for _ in range(repeats)]
        figs.append(summarise(SECTION, f"/api/health, two cameras ({scale})", got, "ms",
                              f"<= {HEALTH_TARGET_MS:g} ms", lambda v: v <= HEALTH_TARGET_MS,
                              note="the route's function: refresh, the last 24 h of each camera, gaps"))

        newest = max((root / "cam0").iterdir())
        added = []
        for k in range(repeats):
            path = newest / f"cam0_{datetime.fromtimestamp(now + SEGMENT_S * (k + 1)):%Y%m%d_%H%M%S}.mp4"
            os.mknod(path, 0o644)
            added.append(_ms(index.refresh))
        figs.append(summarise(SECTION, f"refresh after a new segment ({scale})", added, "ms",
                              note=f"lists the day folder again ({len(os.listdir(newest))} files)"))
        per_segment = _written_per_segment(root, index, now + SEGMENT_S * repeats, 3 * repeats)
        figs.append(summarise(SECTION, f"storage written per finished segment ({scale})", per_segment, "kB",
                              note="its row added, then a retention pass's refresh: pages dirtied in the "
                                   "index's files (WAL, its -shm index, checkpoints); 2880 a day per camera"))
        starts = [_ms(lambda: index.refresh(0, full=True)) for _ in range(max(2, repeats // 3))]
        figs.append(summarise(SECTION, f"a recorder's full refresh at start, one camera ({scale})", starts, "ms",
                              note="lists every day folder of the camera; every row known"))
        size = sum(p.stat().st_size for p in root.glob(f"{DB_NAME}*"))
        index.close()
        dense = _events(root, first, now, every_s=2 * SEGMENT_S, spans=1)
        busy = _passes(root, repeats)
        figs.append(summarise(SECTION, f"retention pass, an event in every other segment ({scale})", busy, "ms",
                              f"<= {RETENTION_TARGET_MS:g} ms", lambda v: v <= RETENTION_TARGET_MS,
                              note=f"{dense} events"))
        busy_counted = _passes(root, max(2, repeats // 3), recount=True)
        figs.append(summarise(SECTION, f"retention pass with the full count, every other segment an event ({scale})",
                              busy_counted, "ms", note="one pass every RECOUNT_S"))
        figs.append(Figure(SECTION, f"database size ({scale})", size / 1e6, 0.0, "MB",
                           note=f"recordings.sqlite with its WAL; files and rows made in {build_s:.0f} s"))
        if not quick:
            left = sum(1 for cam in ("cam0", "cam1") for _ in (root / cam).glob("*/*.mp4"))   # (retention took some)
            for p in root.glob(f"{DB_NAME}*"):
                p.unlink()
            fresh = ArchiveIndex(root)
            rebuilt = _ms(fresh.refresh)
            assert sum(n for _, n, _ in fresh.days(0) + fresh.days(1)) == left, fresh.days(0)
            fresh.close()
            figs.append(summarise(SECTION, f"index built again from the files alone ({scale})", [rebuilt], "ms",
                                  note="database deleted: every file stat'ed, starts from names, "
                                       "durations read later, when a day is first viewed"))
        return figs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
