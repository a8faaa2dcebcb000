"""The recordings API: how long the page waits for one day's list of segments.

    python -m tests.bench.recordings_bench [--quick]

A day folder is filled with copies (hard links) of one real 30 s segment in the
recorder's form (fragmented MP4, a fragment a second): 2880 of them is a full day of one
camera (720 with --quick).  Measured:

- duration of one segment read from its boxes (what a file found without its row costs once);
- listing the day (refresh included) right after the archive index was built from the
  files alone (every duration read from its file, then kept) and again (every refresh);
- ``GET /api/recordings`` for that day through the app (JSON included), warm.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone

SECTION = "recordings"
SEGMENT_S = 30
COLD_TARGET_MS = 1000.0    # first visit of a full day, measured here; a Pi 5 is a few times slower
WARM_TARGET_MS = 500.0     # a day's list on every refresh
API_TARGET_MS = 1000.0


def _build_day(root: Path, count: int) -> tuple[str, Path]:
    from tests.support.mp4_files import segment_path, write_mp4

    start = datetime(2026, 11, 26, 0, 0, 0)
    source = write_mp4(root / "source.mp4", SEGMENT_S, fps=30, width=320, height=240)
    for i in range(count):
        path = segment_path(root, 0, start + timedelta(seconds=i * SEGMENT_S))
        os.link(source, path)
    return start.strftime("%y%m%d"), source


def _ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def run(quick: bool) -> list[Figure]:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    import streamer.archive.recordings as recordings
    from common.archive.index import DB_NAME, ArchiveIndex
    from common.archive.mp4_duration import mp4_duration
    from common.config import load
    from tests.support.procs import isolated_env

    count = 720 if quick else 2880
    repeats = 3 if quick else 5
    tmp = Path(tempfile.mkdtemp(prefix="sht-bench-rec-"))
    try:
        root = tmp / "rec"
        day, source = _build_day(root, count)
        figs = [summarise(SECTION, "segment duration from boxes", [_ms(lambda: mp4_duration(source))
                                                                   for _ in range(50)], "ms",
                          note=f"{SEGMENT_S} s segment, {SEGMENT_S} fragments")]

        def listed(index: ArchiveIndex) -> None:
            index.refresh()
            assert len(recordings.list_segments(index, 0, day)) == count

        cold, warm = [], []
        for _ in range(repeats):
            for p in root.glob(f"{DB_NAME}*"):
                p.unlink()
            index = ArchiveIndex(root)
            cold.append(_ms(lambda index=index: listed(index)))
            warm.append(_ms(lambda index=index: listed(index)))
            index.close()
        figs.append(summarise(SECTION, f"list a day, index built from the files ({count} segments)", cold, "ms",
                              target=f"<= {COLD_TARGET_MS:g} ms" if not quick else "",
                              check=(lambda v: v <= COLD_TARGET_MS) if not quick else None,
                              note="first visit: every duration read from its file (files in the page cache)"))
        figs.append(summarise(SECTION, f"list a day, every refresh ({count} segments)", warm, "ms",
                              target=f"<= {WARM_TARGET_MS:g} ms", check=lambda v: v <= WARM_TARGET_MS,
                              note="what every refresh costs"))

        app = FastAPI()
        app.state.cfg = load(isolated_env(tmp / "sht", recorder__root=str(root)))
        app.include_router(recordings.router)
        with TestClient(app) as client:
            client.get(f"/api/recordings?camera=0&date={day}")  # durations measured, connection open
            api = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                r = client.get(f"/api/recordings?camera=0&date={day}")
                api.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200 and len(r.json()["segments"]) == count
            size = len(r.content)
        figs.append(summarise(SECTION, f"GET /api/recordings, a day ({count} segments)", api, "ms",
                              target=f"<= {API_TARGET_MS:g} ms", check=lambda v: v <= API_TARGET_MS,
                              note=f"durations known; response {size / 1000:.0f} kB of JSON"))
        return figs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
