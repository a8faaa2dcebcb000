"""What a soak (:mod:`tests.support.soak`) measured: figures, verdicts and the printed report.

A *restart window* is the time around a kill during which losses are expected: from
``MARGIN_S`` before the kill to ``MARGIN_S`` after the killed program was back (running
again, and for a capture or a recorder, its camera recording again).  Frames dropped and
holes in the archive are counted outside and inside the windows separately; a hole is a
pause between consecutive segments of a camera longer than the recordings API's tolerance
(:func:`streamer.archive.recordings.holes`).
"""
from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from common.archive.index import Recording
from streamer.archive.recordings import holes
from tests.support.install import PROGRAMS
from tests.support.procstat import Usage
from tests.support.viewer_churn import Visit

MARGIN_S = 2.0
NOT_BACK_S = 60.0             # a program that did not come back: its window ends this long after the kill
FD_SLACK = 2                  # a segment file or a database being opened at the moment of a reading
RSS_GROWTH_MB_PER_H = 5.0
GROWTH_MIN_MINUTES = 30       # shorter soaks report the growth but do not judge it
SETTLING_S = 60.0             # a restarted process's first minute is start-up, not growth
PSS_LIMIT_MB = 250.0


@dataclass
class Kill:
    program: str
    pid: int
    at: float                 # time.time() of the kill
    back: float = 0.0         # when it was back (0: not within the soak's patience)

    def window(self) -> tuple[float, float]:
        return self.at - MARGIN_S, (self.back or self.at + NOT_BACK_S) + MARGIN_S


@dataclass(frozen=True)
class Sample:
    """A recorder's counters, read from its status document (or a capture's: the frames its
    source missed, read from its ring, as ``dropped``)."""

    at: float
    camera: int
    pid: int
    dropped: int
    deleted: int


@dataclass(frozen=True)
class Hole:
    camera: int
    start: float
    end: float
    in_restart: bool


@dataclass
class ProgramFigures:
    start_pid: int
    end_pid: int
    start: Usage | None
    end: Usage | None
    rss_growth_mb_per_h: float | None   # RSS less shared memory, over its longest-lived process
                                        # (:func:`_growth`); None when too short to tell
    tracebacks: int
    files_grown: int | None = None      # open files at the end less at the start of the same process
                                        # (a restarted one: after its first minute); None: not known


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool | None                  # None: not judged in this run
    detail: str


@dataclass
class SoakReport:
    minutes: float
    seed: int
    started: float                       # time.time() when the soak proper began (after the warm-up)
    disk_mb: int
    kills: list[Kill]
    programs: dict[str, ProgramFigures]
    dropped: dict[int, list[int]]        # camera -> [outside restarts, inside]
    drops_at: list[tuple[float, int, int]]   # (seconds into the soak, camera, frames) of drops outside restarts
    missed: dict[int, list[int]]         # camera -> frames its capture missed [outside restarts, inside]
    holes: list[Hole]
    segments: dict[int, int]
    retention_deleted: int
    health: dict[str, Any]
    visits: dict[str, dict[str, int]]
    load: list[float] = field(default_factory=list)   # the machine's 1-minute load average, every 15 s

    def tree(self, when: str) -> float:
        """The six programs' PSS added up (MB) at ``start`` or ``end``."""
        return sum(getattr(p, when).pss_mb for p in self.programs.values() if getattr(p, when) is not None)

    def verdicts(self) -> list[Verdict]:
        out = [_at_most("frames dropped outside restarts", sum(d[0] for d in self.dropped.values()), 0),
               _at_most("missing segments outside restarts", sum(not h.in_restart for h in self.holes), 0)]
        status = self.health.get("status", "unknown")
        out.append(Verdict("health at the end not failing", status in ("ok", "warning"),
                           f"{status}: {'; '.join(self.health.get('reasons', []))}"))
        grown = [f"{n} +{p.files_grown}" for n, p in self.programs.items()
                 if p.files_grown is not None and p.files_grown > FD_SLACK]
        unknown = [n for n, p in self.programs.items() if p.files_grown is None]
        out.append(Verdict("open files not growing", not grown, "; ".join(grown) or f"within +{FD_SLACK} each"
                           + (f" (not known for {', '.join(unknown)}: restarted late)" if unknown else "")))
        lost = [k.program for k in self.kills if not k.back]
        out.append(Verdict("killed programs came back", not lost, ", ".join(lost) or f"{len(self.kills)} kill(s)"))
        out.append(Verdict("retention deleted during the soak", self.retention_deleted > 0,
                           f"{self.retention_deleted} segment(s) deleted on the {self.disk_mb} MB disk"))
        crashes = {n: p.tracebacks for n, p in self.programs.items() if p.tracebacks}
        out.append(Verdict("no traceback in any log", not crashes, str(crashes or "none")))
        pss = self.tree("end")
        out.append(Verdict("whole tree PSS", pss <= PSS_LIMIT_MB, f"{pss:.0f} MB (<= {PSS_LIMIT_MB:g} MB)"))
        growth = {n: p.rss_growth_mb_per_h for n, p in self.programs.items() if p.rss_growth_mb_per_h is not None}
        worst = max(growth.values(), default=0.0)
        judged = self.minutes >= GROWTH_MIN_MINUTES and bool(growth)
        out.append(Verdict("RSS growth per program", worst <= RSS_GROWTH_MB_PER_H if judged else None,
                           f"at most {worst:+.1f} MB/h of RSS less the rings (<= {RSS_GROWTH_MB_PER_H:g} MB/h"
                           f"{'' if judged else f'; judged in runs of {GROWTH_MIN_MINUTES} min or more'})"))
        return out

    def failed(self, names: tuple[str, ...] | None = None) -> list[str]:
        """The verdicts that failed (among ``names`` when given), with their details."""
        return [f"{v.name}: {v.detail}" for v in self.verdicts()
                if v.passed is False and (names is None or v.name in names)]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tree_pss_mb"] = {"start": self.tree("start"), "end": self.tree("end")}
        out["verdicts"] = [asdict(v) for v in self.verdicts()]
        return out

    def text(self) -> str:
        began = time.strftime("%H:%M:%S", time.localtime(self.started))
        lines = [f"Soak of {self.minutes:g} min (seed {self.seed}) from {began} on a {self.disk_mb} MB tmpfs; "
                 + (f"machine load average {min(self.load):.1f} to {max(self.load):.1f} (median "
                    f"{statistics.median(self.load):.1f}) on {os.cpu_count()} CPUs" if self.load else "")]
        for k in self.kills:
            lines.append(f"  kill -9 {k.program} (pid {k.pid}): "
                         + (f"back after {k.back - k.at:.1f} s" if k.back else "did not come back"))
        lines.append(f"{'program':<13} {'pid':>15} {'RSS MB':>13} {'PSS MB':>13} {'USS MB':>13} {'files':>9} "
                     f"{'RSS-shm MB/h':>12} {'tracebacks':>10}")
        for name, p in self.programs.items():
            growth = "" if p.rss_growth_mb_per_h is None else f"{p.rss_growth_mb_per_h:+.1f}"
            lines.append(f"{name:<13} {p.start_pid:>7}>{p.end_pid:<7} {_pair(p, 'rss_mb'):>13} "
                         f"{_pair(p, 'pss_mb'):>13} {_pair(p, 'uss_mb'):>13} {_pair(p, 'open_files'):>9} "
                         f"{growth:>12} {p.tracebacks:>10}")
        lines.append(f"whole tree PSS: {self.tree('start'):.0f} MB at the start, {self.tree('end'):.0f} MB at the end")
        for cam in sorted(self.segments):
            gone = [h for h in self.holes if h.camera == cam]
            lines.append(f"camera {cam}: {self.segments[cam]} segments; frames dropped by the recorder "
                         f"{self.dropped[cam][0]} outside restarts, {self.dropped[cam][1]} inside; holes "
                         f"{_holes(gone, False)} outside restarts, {_holes(gone, True)} inside; frames the capture "
                         f"missed (not run in time) {self.missed[cam][0]} outside restarts, "
                         f"{self.missed[cam][1]} inside")
        if self.drops_at:
            lines.append("drops outside restarts (s into the soak, camera, frames): "
                         + ", ".join(f"{t:g}/{c}/{n}" for t, c, n in self.drops_at[:20]))
        lines.append(f"retention deleted {self.retention_deleted} segment(s)")
        lines.append(f"health at the end: {self.health.get('status')}: {'; '.join(self.health.get('reasons', []))}")
        for kind, counts in sorted(self.visits.items()):
            lines.append(f"viewers {kind}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for v in self.verdicts():
            mark = {True: "PASS", False: "FAIL", None: "----"}[v.passed]
            lines.append(f"{mark} {v.name}: {v.detail}")
        return "\n".join(lines)


def _at_most(name: str, value: int, limit: int) -> Verdict:
    return Verdict(name, value <= limit, f"{value} (target {limit})")


def _pair(p: ProgramFigures, attr: str) -> str:
    def one(u: Usage | None) -> str:
        return "-" if u is None else f"{getattr(u, attr):.0f}" if isinstance(getattr(u, attr), float) \
            else str(getattr(u, attr))
    return f"{one(p.start)}>{one(p.end)}"


def _holes(found: list[Hole], inside: bool) -> str:
    these = [h for h in found if h.in_restart == inside]
    return f"{len(these)} ({sum(h.end - h.start for h in these):.1f} s)" if these else "0"


def _overlaps(start: float, end: float, kills: list[Kill]) -> bool:
    return any(start < w_end and end > w_start for w_start, w_end in (k.window() for k in kills))


def _dropped(samples: list[Sample], started: float, kills: list[Kill]
             ) -> tuple[dict[int, list[int]], list[tuple[float, int, int]]]:
    """Per camera, frames the recorders counted as dropped from ``started`` on: [outside, inside];
    and when those outside were counted."""
    out = {0: [0, 0], 1: [0, 0]}
    when: list[tuple[float, int, int]] = []
    last: dict[int, Sample] = {}
    for s in sorted(samples, key=lambda s: s.at):
        prev = last.get(s.camera)
        last[s.camera] = s
        if prev is None or s.at < started:
            continue
        added = s.dropped - prev.dropped if s.pid == prev.pid else s.dropped   # a new process counts from 0
        if added > 0:
            inside = _overlaps(prev.at, s.at, kills)
            out[s.camera][1 if inside else 0] += added
            if not inside:
                when.append((round(s.at - started, 1), s.camera, added))
    return out, when


def _files_grown(first: tuple[int, Usage | None], last: tuple[int, Usage | None],
                 series: dict[tuple[str, int], list[tuple[float, Usage]]], name: str) -> int | None:
    """Open files the program's process at the end holds beyond what it held at the start (the
    same process) or after its first minute (a restarted one: lazy opens are no leak)."""
    (pid0, u0), (pid1, u1) = first, last
    if u1 is None:
        return None
    if pid0 == pid1 and u0 is not None:
        return u1.open_files - u0.open_files
    readings = series.get((name, pid1), [])
    settled = [u for t, u in readings if readings and t >= readings[0][0] + SETTLING_S]
    return u1.open_files - settled[0].open_files if settled else None


def _growth(series: dict[tuple[str, int], list[tuple[float, Usage]]], name: str,
            started: float) -> float | None:
    """Growth in MB per hour of the program's longest-lived process within the soak: the
    least-squares slope of its RSS less its shared memory.  A reader's RSS counts the ring pages
    it maps, and the streamer maps and unmaps rings as viewers of each kind come and go (tens of
    MB either way, memory the capture allocated once); a slope over every reading, not the
    first and the last, is not decided by where the soak happened to end."""
    best: list[tuple[float, Usage]] = []
    for (program, _pid), readings in series.items():
        if program != name or not readings:
            continue
        settled = readings[0][0] + (0.0 if readings[0][0] <= started else SETTLING_S)
        kept = [r for r in readings if r[0] >= max(started, settled)]
        if len(kept) >= 2 and (not best or kept[-1][0] - kept[0][0] > best[-1][0] - best[0][0]):
            best = kept
    if len(best) < 2 or best[-1][0] - best[0][0] < 60:
        return None
    fit = statistics.linear_regression([t for t, _ in best], [u.rss_mb - u.shm_mb for _, u in best])
    return fit.slope * 3600


def _visits(visits: list[Visit], kills: list[Kill]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"visits": 0, "watched": 0, "refused": 0, "broken": 0,
                                                          "broken in restarts": 0})
    for v in visits:
        counts = out[v.kind]
        counts["visits"] += 1
        if v.refused:
            counts["refused"] += 1
        elif v.broken:
            counts["broken in restarts" if _overlaps(v.started, v.ended or v.started, kills) else "broken"] += 1
        else:
            counts["watched"] += 1
    return dict(out)


def build_report(minutes: float, seed: int, started: float, load: list[float],
                 first: dict[str, tuple[int, Usage | None]], last: dict[str, tuple[int, Usage | None]],
                 kills: list[Kill], samples: list[Sample], captured: list[Sample],
                 rows: dict[int, dict[str, Recording]],
                 memory: dict[tuple[str, int], list[tuple[float, Usage]]], visits: list[Visit],
                 health: dict[str, Any], logs: dict[str, str], disk_mb: int) -> SoakReport:
    none: tuple[int, Usage | None] = (0, None)
    programs = {name: ProgramFigures(first.get(name, none)[0], last.get(name, none)[0], first.get(name, none)[1],
                                     last.get(name, none)[1], _growth(memory, name, started),
                                     logs.get(name, "").count("Traceback"),
                                     _files_grown(first.get(name, none), last.get(name, none), memory, name))
                for name in PROGRAMS}
    found: list[Hole] = []
    for cam, seen in rows.items():
        recs = sorted(seen.values(), key=lambda r: r.start)
        found += [Hole(cam, a, b, _overlaps(a, b, kills)) for a, b in holes(recs)]
    deleted: dict[tuple[int, int], int] = {}
    for s in samples:
        deleted[(s.camera, s.pid)] = max(deleted.get((s.camera, s.pid), 0), s.deleted)
    return SoakReport(minutes, seed, started, disk_mb, kills, programs, *_dropped(samples, started, kills),
                      _dropped(captured, started, kills)[0], found,
                      {cam: len(seen) for cam, seen in rows.items()}, sum(deleted.values()), health,
                      _visits(visits, kills), load)
