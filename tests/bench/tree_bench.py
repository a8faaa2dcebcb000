"""The whole tree at work: CPU, memory and writes of every program, with both recorders and
motion detection on and two viewers of dual 720p.

Started as supervisord would: capture 0 and 1, the streamer, recorder 0 and 1, motion.
:func:`measure` also runs it on real footage (the storage section: each camera a video
file).  After a warm-up, CPU time is read over several windows (each window is one run of the
median) and memory at the end of each window (:mod:`tests.support.procstat`).  The memory
target is the whole tree's PSS: PSS divides the ring and shared-library pages among the
processes that map them, so it adds up to what the tree really uses; each program's USS
(memory only it holds) is reported beside it.  RSS counts the rings once in every process
that maps them, so it is reported without a target.

Writes outside the video: over a window of whole 30 s segments (segment boundaries follow
the clock, so each camera closes exactly one segment per 30 s of window), as many as a
recorder adds to the archive index at once (``BATCH_ROWS``: the window holds exactly one
such write per recorder; the quick run: one segment, without it), the bytes each
program made storage write (``write_bytes``: pages of the page cache it dirtied; ``/dev/shm``
is no storage), less what the recorders wrote of their segment files, scaled to a day.
Segment bytes are the growth of the camera's segment files, plus one page per ``fdatasync``
of the open segment (``recorder.sync_seconds``): its last, partly filled page is dirtied again
by the next append, which is the video itself (shown as a figure of its own).  The programs
write their logs themselves here (under supervisord, supervisord writes them).

    python -m tests.bench.tree_bench [--quick]
"""
from __future__ import annotations

import glob
import os
import sqlite3
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from common.archive.events import db_path
from common.state.board import StatusBoard
from recorder.segments.indexer import BATCH_ROWS
from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone
from tests.bench.rig import CpuClock, Rig
from tests.bench.viewers import ViewerSet
from tests.support import dirty_pages
from tests.support.dirty_pages import DirtyPages
from tests.support.procs import wait_until
from tests.support.procstat import NOTHING, Usage, usage

SECTION = "tree"
PATH = "/stream?view=dual&res=720p"
PROCESSES = ("capture0", "capture1", "streamer", "recorder0", "recorder1", "motion")
RECORDERS = {"recorder0": 0, "recorder1": 1}
PSS_LIMIT_MB = 250.0
CPU_LIMIT = 100.0          # %core: the whole tree under one core of this machine
WRITES_LIMIT_MB = 50.0     # MB per day written outside the video
SEGMENT_S = 30             # the default segment length, whose boundaries the write window spans
PAGE = 4096
DAY_S = 86400


def _recording(rig: Rig) -> bool:
    board = StatusBoard.for_config(rig.cfg)
    docs = [board.read(f"recorder-cam{cam}") for cam in (0, 1)]
    return all(doc is not None and doc.get("state") == "recording" for doc in docs)


def _segment_bytes(root: Path, camera: int) -> int:
    """Bytes of camera ``camera``'s segment files, finished and being written."""
    total = 0
    for path in glob.glob(f"{root}/cam{camera}/*/cam{camera}_*.mp4") + glob.glob(f"{root}/cam{camera}/*/.*.part"):
        try:
            total += Path(path).stat().st_size
        except FileNotFoundError:
            pass   # renamed from .part meanwhile: counted under its other name or next time
    return total


def _motion_share(root: Path, start: float, end: float) -> float:
    """Share of [start, end] during which a motion event was open (either camera), in %."""
    try:
        conn = sqlite3.connect(f"file:{db_path(root)}?mode=ro", uri=True, timeout=1.0)
        try:
            # An event still open runs to now (its progress reaches the database once a minute).
            rows = conn.execute("SELECT start_wall, COALESCE(end_wall, ?) FROM events "
                                "WHERE COALESCE(end_wall, ?) > ? AND start_wall < ?", (end, end, start, end)).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return float("nan")
    spans = sorted((max(a, start), min(b, end)) for a, b in rows)
    covered, reach = 0.0, start
    for a, b in spans:
        covered += max(0.0, b - max(a, reach))
        reach = max(reach, b)
    return 100.0 * covered / (end - start)


def _running(rig: Rig) -> dict[str, int]:
    return {name: rig.procs.running[name].pid for name in PROCESSES
            if name in rig.procs.running and rig.procs.running[name].poll() is None}


def _writes(rig: Rig, window_s: float) -> tuple[dict[str, float], float, str, dict[str, dict[str, float]]]:
    """Per program, MB per day written outside the video; the fdatasync pages (MB per day, both
    recorders); a note on how busy motion detection was; where perf can tell, per program the
    MB per day dirtied in each kind of file (:mod:`tests.support.dirty_pages`), else {}."""
    root = rig.cfg.recordings_root
    pids = _running(rig)
    pages = DirtyPages(pids, root, rig.procs.log_dir) if not dirty_pages.unavailable() else None
    before = {name: usage(pid) or NOTHING for name, pid in pids.items()}
    segments = {cam: _segment_bytes(root, cam) for cam in RECORDERS.values()}
    if pages is not None:
        pages.start()
    t0, wall0 = time.monotonic(), time.time()
    time.sleep(window_s)
    after = {name: usage(pid) for name, pid in pids.items()}
    seconds = time.monotonic() - t0
    kinds = {name: {kind: b / seconds * DAY_S / 1e6 for kind, b in c.items()}
             for name, c in pages.stop().items()} if pages is not None else {}
    sync_s = rig.cfg.recorder.sync_seconds
    resynced = PAGE * seconds / sync_s if sync_s > 0 else 0.0   # per recorder
    out = {}
    for name, now in after.items():
        if now is None:
            continue
        written = float(now.write_bytes - before[name].write_bytes)
        if name in RECORDERS:
            written -= _segment_bytes(root, RECORDERS[name]) - segments[RECORDERS[name]] + resynced
        out[name] = max(0.0, written) / seconds * DAY_S / 1e6
    busy = _motion_share(root, wall0, time.time())
    busy_note = f"a motion event was open {busy:.0f}% of the window"
    return out, resynced * len(RECORDERS) / seconds * DAY_S / 1e6, busy_note, kinds


@dataclass
class TreeRun:
    """Per program: CPU (%core) and memory per window; writes outside the video (MB a day)."""
    cpu: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in PROCESSES})
    mem: dict[str, list[Usage]] = field(default_factory=lambda: {name: [] for name in PROCESSES})
    totals: list[float] = field(default_factory=list)
    writes: dict[str, float] = field(default_factory=dict)
    resynced: float = float("nan")
    motion_note: str = ""
    kinds: dict[str, dict[str, float]] = field(default_factory=dict)   # program -> kind of file -> MB/day
    problems: list[str] = field(default_factory=list)
    load_before: float = float("nan")   # the machine's 1-minute load average as the windows start


def measure(quick: bool, writes: bool = False, **overrides: object) -> TreeRun:
    """The tree with two viewers of dual 720p; ``writes``: also the writes outside the video
    (whole segments: 30 s, or ``BATCH_ROWS`` of them); ``overrides`` are configuration keys (a scene)."""
    # The full run waits out the start (imports, first segments, motion's background, the
    # archive index): the steady state is what a CCTV spends its life in.
    windows, window_s, warmup_s = (2, 2.0, 1.0) if quick else (4, 10.0, 20.0)
    out = TreeRun()
    with Rig(**overrides) as rig:
        rig.cameras(wait=False)   # as supervisord does: all at once, each waits for what it needs
        rig.streamer(wait=False)
        for cam in (0, 1):
            rig.recorder(cam)
        rig.procs.start("motion", "-m", "motion")
        rig.wait_cameras()
        rig.wait_serving()
        try:
            wait_until(lambda: _recording(rig), 20.0, interval=0.2)
        except AssertionError:
            out.problems.append("recorders did not report state 'recording' within 20 s")
        load = ViewerSet.open(rig.port, PATH, 2, distinct=2)
        try:
            load.wait_streaming(15.0)
            time.sleep(warmup_s)
            out.load_before = os.getloadavg()[0]
            for _ in range(windows):
                pids = _running(rig)
                clocks = {name: CpuClock(pid) for name, pid in pids.items()}
                time.sleep(window_s)
                total = 0.0
                for name, clock in clocks.items():
                    used, wall = clock.elapsed()
                    out.cpu[name].append(100.0 * used / wall)
                    total += 100.0 * used / wall
                    reading = usage(pids[name])
                    if reading is not None:
                        out.mem[name].append(reading)
                out.totals.append(total)
            if writes:
                window = SEGMENT_S * (1 if quick else BATCH_ROWS)
                out.writes, out.resynced, out.motion_note, out.kinds = _writes(rig, window)
            if load.errors():
                out.problems.append("viewer errors: " + "; ".join(load.errors()))
        finally:
            load.close()
        for name in PROCESSES:
            proc = rig.procs.running.get(name)
            if proc is None or proc.poll() is not None or not out.cpu[name]:
                tail = " / ".join(rig.procs.log(name).strip().splitlines()[-2:])
                out.problems.append(f"{name} not running the whole time ({tail})")
    return out


def run(quick: bool) -> list[Figure]:
    return _figures(measure(quick, writes=True))


def _figures(tree: TreeRun) -> list[Figure]:
    cpu, mem, totals, writes, problems = tree.cpu, tree.mem, tree.totals, tree.writes, tree.problems
    resynced, motion_note, kinds = tree.resynced, tree.motion_note, tree.kinds
    note = "; ".join(problems)
    complete = not problems
    figs: list[Figure] = []
    for name in PROCESSES:
        figs.append(summarise(SECTION, f"{name} CPU", cpu[name], "%core"))
    total = summarise(SECTION, "whole tree CPU", totals if complete else [], "%core",
                      target=f"< {CPU_LIMIT:g} %core", check=lambda v: v < CPU_LIMIT,
                      note=note or f"load average {tree.load_before:.2f} as the windows began (the tree's own "
                                   "share included): much more means another program was busy")
    if not complete and totals:
        total.extra["partial_median"] = sorted(totals)[len(totals) // 2]
    figs.append(total)
    for name in PROCESSES:
        figs.append(summarise(SECTION, f"{name} USS", [u.uss_mb for u in mem[name]], "MB",
                              note=f"PSS {_median([u.pss_mb for u in mem[name]]):.1f} MB"))
    runs = min((len(v) for v in mem.values()), default=0)
    sums = [sum((mem[name][i] for name in PROCESSES), NOTHING) for i in range(runs)]
    figs.append(summarise(SECTION, "whole tree PSS", [u.pss_mb for u in sums] if complete else [], "MB",
                          target=f"<= {PSS_LIMIT_MB:g} MB", check=lambda v: v <= PSS_LIMIT_MB,
                          note=note or "six programs; PSS shares the rings and libraries among their users"))
    figs.append(summarise(SECTION, "whole tree USS", [u.uss_mb for u in sums], "MB"))
    figs.append(summarise(SECTION, "whole tree RSS", [u.rss_mb for u in sums], "MB",
                          note="counts the rings and shared libraries once per process that maps them"))
    if kinds:
        figs.extend(_by_file(kinds, writes, complete, note, motion_note))
    else:
        for name in PROCESSES:
            figs.append(summarise(SECTION, f"{name} writes outside video", [writes[name]] if name in writes else [],
                                  "MB/day", note=motion_note if name == "motion" else ""))
        figs.append(summarise(SECTION, "whole tree writes outside video",
                              [sum(writes.values())] if complete and len(writes) == len(PROCESSES) else [], "MB/day",
                              target=f"<= {WRITES_LIMIT_MB:g} MB/day", check=lambda v: v <= WRITES_LIMIT_MB,
                              note=note or f"write_bytes less the video's bytes ({dirty_pages.unavailable()}: "
                                           "not charged file by file)"))
    figs.append(summarise(SECTION, "open segment's last page again after each fdatasync",
                          [resynced] if resynced == resynced else [], "MB/day",
                          note="both recorders; part of the video, taken out of the figure above"))
    return figs


OWN_FILES = ("archive index", "events database", "logs", "other")


def _by_file(kinds: dict[str, dict[str, float]], writes: dict[str, float], complete: bool, note: str,
             motion_note: str) -> list[Figure]:
    """The writes outside the video, charged file by file (perf): what the programs write to
    files of their own, and apart from it the filesystem's own blocks their writes change."""
    figs = []
    whole = complete and len(kinds) == len(PROCESSES)
    for name in PROCESSES:
        k = kinds.get(name, {})
        parts = ", ".join(f"{kind} {k[kind]:.1f}" for kind in (*OWN_FILES, "filesystem metadata") if k.get(kind))
        figs.append(summarise(SECTION, f"{name} writes outside video", [sum(k.get(x, 0.0) for x in OWN_FILES)]
                              if name in kinds else [], "MB/day",
                              note="; ".join(x for x in (parts, motion_note if name == "motion" else "") if x)))
    figs.append(summarise(SECTION, "whole tree writes outside video",
                          [sum(k.get(x, 0.0) for k in kinds.values() for x in OWN_FILES)] if whole else [], "MB/day",
                          target=f"<= {WRITES_LIMIT_MB:g} MB/day", check=lambda v: v <= WRITES_LIMIT_MB,
                          note=note or "pages dirtied in files other than the segments, charged file by file "
                                       "(perf, writeback_dirty_folio); status documents are in /dev/shm"))
    figs.append(summarise(SECTION, "whole tree filesystem metadata",
                          [sum(k.get("filesystem metadata", 0.0) for k in kinds.values())] if whole else [], "MB/day",
                          note="the filesystem's own blocks (inode tables, directories, bitmaps) the programs' "
                               "writes changed: for a recorder about one block per journal commit, the open "
                               "segment's new size"))
    figs.append(summarise(SECTION, "whole tree write_bytes less the video's bytes",
                          [sum(writes.values())] if whole and len(writes) == len(PROCESSES) else [], "MB/day",
                          note="all of the above, and the video's own partly filled pages written again"))
    return figs


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
