"""Off-site copies at full speed beside both recorders: the recorders must drop no frame, a
finished segment must be off-site within 10 s (p95), and the uploader's CPU per MB is stated.

The system: two synthetic cameras and their recorders (5 s segments, so a run holds many),
the offsite program without a bandwidth limit, and ``rclone serve webdav`` on loopback as the
remote.  On a real installation the remote is another machine, so here it takes no CPU or
disk from the recorders that it would not there: it runs at nice 19 in the idle I/O class and
writes into a tmpfs (where one can be mounted; else onto the disk, and the report says so).  A backlog of a
day before (one 8 MB file under many hard-linked names, so it costs no disk) keeps the
uploader sending at full speed for the whole run; the recorders' new segments overtake it
(newest first).  The remote's copies are deleted as they arrive, so the run fills no disk.

Upload lag: from a segment's last write (its file's mtime; the recorder renames it final
right after) to the queue's confirmation that the remote holds it whole.  Uploader CPU: the
offsite process and its rclone runs (their CPU, once reaped, is counted as its children's).

    python -m tests.bench.offsite_bench [--quick]
"""
from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

import psutil

from common.archive import segment_name
from common.archive.offsite_queue import db_path
from common.state.board import StatusBoard
from tests.bench.figures import Figure, SectionSkipped, summarise
from tests.bench.report import run_alone
from tests.bench.rig import Rig
from tests.support.mounts import small_tmpfs
from tests.support.offsite_servers import RCLONE, WebdavServer
from tests.support.procs import wait_until

SECTION = "offsite"
SEGMENT_S = 5
BACKLOG_FILE_MB = 8
BACKLOG_NAMES = 1000           # per camera, 30 s apart on the day before: 8 GB each, more than a run sends
LAG_TARGET_S = 10.0
REMOTE_TMPFS_MB = 768          # the copies of a few seconds at full speed (they are deleted as they arrive)


class QuietWebdav(WebdavServer):
    """The WebDAV remote at the lowest CPU priority: it stands for another machine."""

    def command(self) -> list[str]:
        return ["nice", "-n", "19", "ionice", "-c", "3", *super().command()]


def _backlog(root: Path, scratch: Path) -> int:
    """Hard links of one file under segment names of the day before; returns how many."""
    blob = scratch / "backlog.bin"
    blob.write_bytes(os.urandom(BACKLOG_FILE_MB * 1_000_000))
    day = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    made = 0
    for cam in (0, 1):
        for n in range(BACKLOG_NAMES):
            rel = segment_name.for_start(cam, day + timedelta(seconds=30 * n)).rel_path
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(blob, root / rel)
            made += 1
    return made


def _drain(folder: Path, stop: threading.Event) -> None:
    """Delete the remote's copies a few seconds after they arrived."""
    while not stop.wait(1.0):
        cutoff = time.time() - 3.0
        for path in folder.rglob("*.mp4"):
            try:
                if path.stat().st_ctime < cutoff:   # (rclone gives the copy its source's mtime)
                    path.unlink()
            except OSError:
                pass


def _uploader_cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def _sent(root: Path) -> list[tuple[str, float]]:
    conn = sqlite3.connect(f"file:{db_path(root)}?mode=ro", uri=True)
    try:
        return [(f, float(d)) for f, d in conn.execute("SELECT file, done_at FROM queue WHERE state = 'sent'")]
    finally:
        conn.close()


def _dropped(before: list[dict], after: list[dict]) -> tuple[int, int]:
    """Frames the recorders dropped and wrote between two readings of their status."""
    return (sum(a.get("frames_dropped", 0) - b.get("frames_dropped", 0) for a, b in zip(after, before)),
            sum(a.get("frames_written", 0) - b.get("frames_written", 0) for a, b in zip(after, before)))


def _lags(root: Path, sent: list[tuple[str, float]], t0: float, t1: float) -> list[float]:
    """Upload lag of each segment the recorders finished between ``t0`` and ``t1`` (today's folder)."""
    today = f"{datetime.now():%y%m%d}"
    lags = []
    for file, done in sent:
        try:
            finished = (root / file).stat().st_mtime
        except OSError:
            continue
        if file.split("/")[1] == today and t0 <= finished <= t1:
            lags.append(done - finished)
    return lags


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


def run(quick: bool) -> list[Figure]:
    if RCLONE is None:
        raise SectionSkipped("rclone is not installed (apt-get install rclone)")
    seconds = 20.0 if quick else 120.0
    stop = threading.Event()
    with Rig(recorder__segment_seconds=SEGMENT_S) as rig, ExitStack() as mounts:
        server = QuietWebdav(rig.tmp / "webdav")
        try:
            mounts.enter_context(small_tmpfs(server.folder, REMOTE_TMPFS_MB))
            remote_on = "tmpfs"
        except RuntimeError as exc:
            remote_on = f"disk ({exc})"
        server.start()
        drainer = threading.Thread(target=_drain, args=(server.folder, stop), daemon=True)
        try:
            root = rig.cfg.recordings_root
            backlog = _backlog(root, rig.tmp)
            rig.env["SHT__OFFSITE__REMOTE"] = server.remote()
            rig.cameras()
            for cam in (0, 1):
                rig.recorder(cam)
            board = StatusBoard.for_config(rig.cfg)
            recorders = lambda: [board.read(f"recorder-cam{cam}") or {} for cam in (0, 1)]  # noqa: E731
            wait_until(lambda: all(d.get("state") == "recording" for d in recorders()), 30.0, interval=0.2)
            quiet = recorders()
            time.sleep(seconds)   # the same window without the uploader: what the machine drops anyway
            baseline = _dropped(quiet, recorders())
            rig.procs.start("offsite", "-m", "offsite")
            drainer.start()
            wait_until(lambda: (d := board.read_offsite()) and d.get("sent_bytes", 0) > 0, 60.0, interval=0.2)
            pid = rig.pid("offsite")
            before, sent0, cpu0, t0 = recorders(), board.read_offsite() or {}, _uploader_cpu_s(pid), time.time()
            time.sleep(seconds)
            after, sent1, cpu1, t1 = recorders(), board.read_offsite() or {}, _uploader_cpu_s(pid), time.time()
            time.sleep(SEGMENT_S + 3.0)   # the last segments of the window reach the remote
            lags = _lags(root, _sent(root), t0, t1)
            alive = all(rig.procs.running[f"recorder{c}"].poll() is None for c in (0, 1)) \
                and rig.procs.running["offsite"].poll() is None
        finally:
            stop.set()
            server.stop()
    dropped, written = _dropped(before, after)
    mb = (sent1.get("sent_bytes", 0) - sent0.get("sent_bytes", 0)) / 1e6
    files = sent1.get("sent_segments", 0) - sent0.get("sent_segments", 0)
    note = (f"{seconds:g} s, {SEGMENT_S} s segments, WebDAV on loopback writing to {remote_on}, "
            f"backlog of {backlog} x {BACKLOG_FILE_MB} MB" + ("" if alive else "; a process exited"))
    return [
        summarise(SECTION, "frames dropped by both recorders while uploading", [float(dropped)], "frames",
                  target="== 0", check=lambda v: v == 0, note=f"{note}; {written} frames written"),
        summarise(SECTION, "frames dropped by both recorders, same window before the uploader started",
                  [float(baseline[0])], "frames", note=f"{baseline[1]} frames written"),
        summarise(SECTION, "upload lag p50 (last write to confirmed off-site)", [_pct(lags, 50)], "s",
                  note=f"{len(lags)} new segments"),
        summarise(SECTION, "upload lag p95", [_pct(lags, 95)], "s", target=f"<= {LAG_TARGET_S:g} s",
                  check=lambda v: v <= LAG_TARGET_S, note=f"max {max(lags, default=float('nan')):.2f} s"),
        summarise(SECTION, "upload rate at full speed", [mb / (t1 - t0)], "MB/s", note=f"{files} files, {mb:.0f} MB"),
        summarise(SECTION, "uploader CPU per MB sent (offsite + rclone)", [1000 * (cpu1 - cpu0) / mb if mb else
                                                                        float("nan")], "ms/MB",
                  note=f"{100 * (cpu1 - cpu0) / (t1 - t0):.0f} %core over the run"),
    ]


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
