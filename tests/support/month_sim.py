"""The simulated month: both recorders, motion and retention on a small real disk, checked every hour.

A :class:`Phase` says what to simulate: from a local time in :data:`TZ` (which has a clock
change), for some days, on a tmpfs of some size, with segments of some mean size, under the
retention rule; one wall-clock step and one day folder made unreadable, at given hours.  The clock
advances :data:`STEP_S` at a time: the recorders' segments grow and end on their boundaries, the
motion process opens, closes and links events, each recorder runs retention every
``recorder.check_seconds`` (staggered), and every simulated hour the checks run
(:mod:`tests.support.month_rule`, :mod:`tests.support.month_health`, and nothing outside the root
touched).  Every pass that deleted anything is timed and judged.  Sizes are the Pi's divided by
``scale``, and so are the free-space floor, target and warning, so a pass deletes as many
segments as it would on the Pi.

:func:`run` does it as root does it (mount, lay out, simulate as the unprivileged user, unmount);
:func:`warm_up` first runs a tiny phase in this process, so that every module the child needs is
imported before it can no longer read the Python installation.
"""
from __future__ import annotations

import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

import streamer.archive.recordings as recordings
from common.archive import segment_name
from common.archive.gaplog import GapLog, read_gaplog
from common.archive.index import ArchiveIndex
from common.config import Config, load
from common.config.sections import RecorderSection
from common.state.board import StatusBoard
from common.state.controls import Controls
from common.state.documents import recorder_status_name
from motion.__main__ import PRUNE_EVERY_S, RESOLVE_EVERY_S
from recorder.retention.diskguard import GB
from recorder.segments.indexer import Indexer
from streamer.archive.health import health
from tests.support import month_health
from tests.support import month_rule as rules
from tests.support.month_disk import Layout, Sudo, as_user, lay_out, outside, tmpfs, touched
from tests.support.month_ledger import Ledger, Seg
from tests.support.month_motion import SimMotion
from tests.support.month_retention import Retention
from tests.support.month_rule import Rule
from tests.support.month_stream import Batch, SimClock, SimRecorder, SizeModel
from tests.support.procs import isolated_env

TZ = "Europe/Berlin"
SEGMENT_S = 30
STEP_S = 5
FULL_SEGMENT_BYTES = 3_200_000   # a 30 s segment on the Pi (about 850 kbit/s): what the defaults are sized for
MB = 1_000_000
EXAMPLES = 3                     # examples kept of each kind of violation
INDEXED_WAIT_S = 30.0            # how long an hourly check waits for the indexers to catch up
TIMING_REPEATS = 9


@dataclass(frozen=True)
class Phase:
    name: str
    start: datetime                  # local time in TZ
    days: float
    disk_mb: int
    mean_segment_bytes: int
    rule: Rule = field(default_factory=Rule)
    step_at_h: float | None = None   # the wall clock steps by step_s this many hours in (plus half a segment)
    step_s: float = -1800.0
    unreadable_at_h: float | None = None   # the oldest day folder of camera 1 (not being written) is taken
    unreadable_h: float = 24.0
    check_from_h: float = 0.0        # checks (hourly and per pass) from this hour on
    fill_days: float = 0.0           # the first days are laid down fast: rows and event links added hourly
    timings: bool = False            # time the API at the end
    seed: int = 20

    @property
    def scale(self) -> float:
        return FULL_SEGMENT_BYTES / self.mean_segment_bytes


class Violations:
    def __init__(self) -> None:
        self.kinds: dict[str, dict[str, Any]] = {}

    def add(self, kind: str, when: str, detail: str) -> None:
        entry = self.kinds.setdefault(kind, {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < EXAMPLES:
            entry["examples"].append(f"{when}: {detail}")

    @property
    def total(self) -> int:
        return sum(k["count"] for k in self.kinds.values())


class LogTally(logging.Handler):
    """Counts the system's warnings and errors; keeps the first few."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = {}
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] = self.counts.get(record.levelname, 0) + 1
        if len(self.first) < 2 * EXAMPLES:
            self.first.append(f"{record.levelname} {record.name}: {record.getMessage()}"[:300])


def _ms(work: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    work()
    return (time.perf_counter() - t0) * 1000


def _spread(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {"count": len(values), "median": round(statistics.median(values), 2),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2), "max": round(ordered[-1], 2)}


def config(phase: Phase, layout: Layout, tmp: Path) -> Config:
    """The installation's configuration: the defaults, with the free-space limits scaled."""
    rs = RecorderSection
    return load(isolated_env(tmp, recorder__root=str(layout.root),
                             recorder__free_floor_gb=rs.free_floor_gb / phase.scale,
                             recorder__free_target_gb=rs.free_target_gb / phase.scale,
                             recorder__disk_warn_gb=rs.disk_warn_gb / phase.scale,
                             recorder__keep_continuous_hours=phase.rule.keep_continuous_hours,
                             recorder__event_share_percent=phase.rule.event_share_percent,
                             recorder__event_keep_days=phase.rule.event_keep_days))


class Simulation:
    def __init__(self, phase: Phase, layout: Layout, cfg: Config, sudo: Sudo | None) -> None:
        self.phase, self.layout, self.cfg, self.sudo = phase, layout, cfg, sudo
        self.root = layout.root
        self.rule = phase.rule
        cameras = cfg.camera.count
        rng = random.Random(phase.seed)
        self.ledger = Ledger(cameras, self.rule.window_s)
        self.clock = SimClock(phase.start.timestamp())
        self.sizes = SizeModel(phase.mean_segment_bytes, SEGMENT_S)
        self.retention = Retention(cfg, self.clock.wall, lambda: self.clock.true)
        self.batch = Batch(ArchiveIndex(self.root)) if phase.fill_days else None
        self.recorders = [SimRecorder(self.root, cam, SEGMENT_S, self.ledger,
                                      self.batch or Indexer(self.root, f"cam{cam}"), GapLog(cfg.run_dir, cam), rng)
                          for cam in range(cameras)]
        self.motion = SimMotion(self.root, cameras, SEGMENT_S, cfg.motion.pre_seconds, phase.scale, self.ledger, rng)
        self.index = ArchiveIndex(self.root)   # the streamer's
        self.board = StatusBoard.for_config(cfg)
        self.controls = Controls(cfg.run_dir, cfg.streamer.default_view, cfg.streamer.default_resolution, cameras)
        self.violations = Violations()
        self.logs = LogTally()
        self.outside = outside(layout)
        self.outside_paths = len(self.outside)
        self.slack_bytes = round((cfg.recorder.free_target_gb - cfg.recorder.free_floor_gb) * GB
                                 + 4 * phase.mean_segment_bytes)
        self.passes: list[tuple[float, float, int]] = []   # (true time, ms, segments deleted) of passes that deleted
        self.checks = 0
        self.check_ms: list[float] = []   # every check's, over the timed stretch
        self.hours_checked = 0
        self.kept: dict[str, Any] = {"disk_full_at_h": None, "continuous_h_min": None}
        self.repeated_hour = [0] * cameras   # segments begun in the hour repeated when the clocks went back
        self.stepped_aside = 0               # names moved from a taken one
        self.unreadable: dict[str, Any] = {}
        self.step: dict[str, Any] = {}
        self.write_errors = 0

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        logging.getLogger().addHandler(self.logs)
        try:
            for rec in self.recorders:
                rec.gaplog.add("recorder started", at=self.clock.wall())
                rec.begin(self.clock)
            self._loop()
            timings = self._timings() if self.phase.timings else None
        finally:
            logging.getLogger().removeHandler(self.logs)
            self._close()
        return self._report(time.perf_counter() - started, timings)

    def _loop(self) -> None:
        phase, clock = self.phase, self.clock
        hour, check_every = round(3600 / STEP_S), round(self.cfg.recorder.check_seconds / STEP_S)
        at_step = None if phase.step_at_h is None else round((phase.step_at_h * 3600 + SEGMENT_S / 2) / STEP_S)
        take = None if phase.unreadable_at_h is None else round(phase.unreadable_at_h * hour)
        give = None if take is None else take + round(phase.unreadable_h * hour)
        filled = round(phase.fill_days * 86400 / STEP_S)
        for i in range(1, round(phase.days * 86400 / STEP_S) + 1):
            clock.true = float(i * STEP_S)
            wall = clock.wall()
            local = datetime.fromtimestamp(wall)
            self.motion.step(clock.true, wall, local, STEP_S)
            for rec in self.recorders:
                self._grow(rec, round(self.sizes.rate(local, self.motion.active(rec.camera), rec.noise) * STEP_S))
                if rec.due(clock):
                    self._finished(rec.finish(clock))
                    rec.begin(clock)
            if i == at_step:
                self._step_clock()
            if i <= filled:
                if i % hour == 0 or i == filled:
                    self._laid_down(last=i == filled)
            elif i % round(RESOLVE_EVERY_S / STEP_S) == 0:
                self.motion.resolve(clock.wall())
            if i % round(PRUNE_EVERY_S / STEP_S) == 0:
                self.motion.prune(self.cfg.recorder.event_keep_days, clock.wall())
            # While laid down fast the disk is not yet full: a check an hour, not one a minute.
            every = hour if i <= filled else check_every
            for cam in range(len(self.recorders)):
                if (i - cam) % every == 0:
                    self._retention(cam)
            if i == take:
                self._take()
            if i == give:
                self._give_back()
            if i % hour == 0 and clock.true >= phase.check_from_h * 3600:
                self._hourly()
            if i % (24 * hour) == 0:
                print(f"{phase.name}: day {i // (24 * hour)} of {phase.days:g} simulated: {self.ledger.written} "
                      f"segments, {self.violations.total} violations", file=sys.stderr, flush=True)

    def _laid_down(self, last: bool) -> None:
        """While the archive is laid down fast: the hour's rows and event links (``last``: and
        from now on, each recorder's own indexer)."""
        assert self.batch is not None
        self.batch.flush()
        self.motion.resolve(self.clock.wall(), drain=True)
        if last:
            self.batch.index.close()
            for rec in self.recorders:
                rec.indexer = Indexer(self.root, f"cam{rec.camera}")

    def _grow(self, rec: SimRecorder, count: int) -> None:
        try:
            rec.grow(count)
        except OSError as exc:
            # The recorder would close the segment, make room and go on: these seconds are lost.
            self.write_errors += 1
            self.violations.add("recording lost: a write failed", self._when(), f"camera {rec.camera}: {exc}")
            self.retention.run(rec.camera, full=True)

    def _finished(self, seg: Seg) -> None:
        self.retention.saw_segment(seg.camera, seg.wall + seg.duration)
        started = datetime.fromtimestamp(seg.wall)
        if started.fold:
            self.repeated_hour[seg.camera] += 1
        parsed = segment_name.parse(seg.file.rsplit("/", 1)[-1])
        if parsed is not None and parsed.start != started.replace(microsecond=0, fold=0):
            self.stepped_aside += 1

    def _step_clock(self) -> None:
        step_s = self.phase.step_s
        self.step = {"at": self._when(), "step_s": step_s}
        self.clock.step(step_s)
        for rec in self.recorders:
            self._finished(rec.clock_stepped(self.clock, step_s))
        self.step["in_gap_log"] = all(any(e["event"] == "clock step" for e in read_gaplog(self.cfg.run_dir, cam))
                                      for cam in range(len(self.recorders)))

    def _when(self) -> str:
        return datetime.fromtimestamp(self.clock.wall()).isoformat(timespec="seconds")

    # -- retention ----------------------------------------------------------------------------
    def _retention(self, camera: int) -> None:
        inodes = os.statvfs(self.root).f_ffree
        ms = _ms(lambda: self.retention.run(camera))
        self.checks += 1
        if self.phase.timings and self.clock.true >= self.phase.check_from_h * 3600:
            self.check_ms.append(ms)
        if os.statvfs(self.root).f_ffree == inodes:
            return   # nothing deleted (nor made): not a pass that did anything
        removed = self.ledger.remove(self.ledger.present_files() - self._on_disk())
        if not removed:
            return
        self.passes.append((self.clock.true, ms, len(removed)))
        if self.kept["disk_full_at_h"] is None:
            self.kept["disk_full_at_h"] = round(self.clock.true / 3600, 2)
        for rec in self.recorders:
            if not rec.part.exists():
                self.violations.add("a segment being written was deleted", self._when(), str(rec.part))
        if self.clock.true >= self.phase.check_from_h * 3600:
            for kind, detail in rules.judge_pass(removed, self.ledger, self.rule, self.clock.true, SEGMENT_S):
                self.violations.add(kind, self._when(), detail)

    def _on_disk(self) -> set[str]:
        """The segment files under the root, as the recorders' user finds them (a folder it may not
        read holds what the ledger says: nobody could change it)."""
        found: set[str] = set()
        for cam in range(len(self.recorders)):
            cam_dir = self.root / segment_name.camera_folder(cam)
            for entry in os.scandir(cam_dir):
                if not entry.is_dir(follow_symlinks=False):
                    continue
                rel = f"{cam_dir.name}/{entry.name}"
                try:
                    found.update(f"{rel}/{name}" for name in os.listdir(entry.path))
                except PermissionError:
                    found.update(s.file for s in self.ledger.present() if s.folder == rel)
        return found

    def _take(self) -> None:
        """A ``sudo`` run makes camera 1's oldest day folder root's: the recorders may not touch it."""
        writing = {rec.part.parent.relative_to(self.root).as_posix() for rec in self.recorders}
        oldest = next((s for s in self.ledger.by_camera[1] if s.present and s.folder not in writing), None)
        if oldest is None or self.sudo is None:
            self.unreadable = {"at": self._when(), "folder": None}
            return
        folder = self.root / oldest.folder
        self.sudo.take(folder)
        self.ledger.locked.add(oldest.folder)
        try:
            os.listdir(folder)
            denied = False
        except PermissionError:
            denied = True
        self.unreadable = {"at": self._when(), "folder": oldest.folder, "denied": denied,
                           "files": sum(1 for s in self.ledger.present() if s.folder == oldest.folder)}

    def _give_back(self) -> None:
        folder = self.unreadable.get("folder")
        if folder and self.sudo is not None:
            self.sudo.give_back(self.root / folder)
            self.ledger.locked.discard(folder)
            self.unreadable["given_back"] = self._when()

    # -- the hourly checks --------------------------------------------------------------------
    def _indexed(self) -> None:
        """Wait until the indexers have added every finished segment still on the disk (they run
        in threads, in the order segments finish)."""
        deadline = time.monotonic() + INDEXED_WAIT_S
        for cam in range(len(self.recorders)):
            newest = self.ledger.newest(cam)
            if newest is None:
                continue
            mtime = os.stat(self.root / newest.file).st_mtime
            while self.index.newest_written(cam) < mtime - 1e-4:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self._when()}: camera {cam}'s indexer did not add {newest.file} "
                                       f"in {INDEXED_WAIT_S} s")
                time.sleep(0.002)

    def _hourly(self) -> None:
        self.hours_checked += 1
        when, ledger, rule = self._when(), self.ledger, self.rule
        self._indexed()
        for rec in self.recorders:
            self.board.publish(recorder_status_name(rec.camera), {
                "camera": rec.camera, "pid": os.getpid(), "engine": "month", "state": "recording", "enabled": True,
                "segment_seconds": SEGMENT_S, "frames_dropped_today": 0, "last_error": "", "waiting_for": "",
                "clock_steps": 1 if self.step else 0, **self.retention.status(rec.camera)})
        missing = rules.missing_in_window(ledger, rule)
        if missing and not rules.nothing_else(ledger, rules.window_files(ledger, rule)):
            self.violations.add("segments of the continuous window missing", when, f"{len(missing)} of the newest "
                                f"{rule.keep_continuous_hours:g} h, e.g. {missing[0].file}")
        if ledger.deleted:
            why = rules.over_share(ledger, rule, self.slack_bytes)
            if why:
                self.violations.add("events over their share", when, why)
        now = outside(self.layout)
        for change in touched(self.outside, now):
            self.violations.add("a file outside the recordings root was touched", when, change)
        self.outside = now
        for kind, detail in month_health.check(self.cfg, self.index, self.board, self.controls, ledger, rule,
                                               self.clock.wall(), self.clock.true, bool(missing)):
            self.violations.add(kind, when, detail)
        if ledger.deleted:
            self._kept_now()
            low, now = self.kept["continuous_h_min"], self.kept["continuous_h_last"]
            self.kept["continuous_h_min"] = now if low is None else min(low, now)

    def _kept_now(self) -> None:
        files = rules.kept(self.ledger, self.rule, self.clock.true)
        self.kept.update({
            "continuous_h_last": round(files.continuous_hours, 2),
            "event_share_percent_last": round(files.event_percent, 1),
            "event_days_last": None if files.event_days is None else round(files.event_days, 2),
            "on_disk_h_last": round(sum(s.duration for s in self.ledger.present()) / 3600 / self.ledger.cameras, 1)})

    # -- the end ------------------------------------------------------------------------------
    def _timings(self) -> dict[str, Any]:
        """``/api/recordings?date=`` of a full day and ``/api/health`` at this size."""
        self._indexed()
        days = self.index.days(0)
        rows = sum(n for cam in range(len(self.recorders)) for _, n, _ in self.index.days(cam))
        day = max(days, key=lambda d: (d[1], d[0]))[0]
        app = FastAPI()
        app.state.cfg = self.cfg
        app.include_router(recordings.router)
        with TestClient(app) as client:
            first = client.get(f"/api/recordings?camera=0&date={day}")
            assert first.status_code == 200, first.text[:300]
            listing = [_ms(lambda: client.get(f"/api/recordings?camera=0&date={day}"))
                       for _ in range(TIMING_REPEATS)]
        now = self.clock.wall()
        answer = [_ms(lambda: health(self.cfg, self.index, self.board, self.controls, now=now))
                  for _ in range(TIMING_REPEATS)]
        steady = [(ms, n) for t, ms, n in self.passes if t >= self.phase.check_from_h * 3600]
        return {"rows": rows, "day": day, "day_segments": len(first.json()["segments"]),
                "recordings_ms": _spread(listing), "health_ms": _spread(answer),
                "pass_ms": _spread([ms for ms, _ in steady]), "check_ms": _spread(self.check_ms),
                "deleted_per_pass": _spread([float(n) for _, n in steady])}

    def _close(self) -> None:
        for rec in self.recorders:
            rec.close()
        self.motion.close()
        self.retention.close()
        self.index.close()

    def _report(self, seconds: float, timings: dict[str, Any] | None) -> dict[str, Any]:
        phase, ledger = self.phase, self.ledger
        return {
            "phase": phase.name, "start": phase.start.isoformat(), "days": phase.days, "tz": TZ,
            "disk": str(self.layout.mount),
            "disk_mb": phase.disk_mb, "mean_segment_kb": round(phase.mean_segment_bytes / 1000, 1),
            "scale": round(phase.scale), "rule": asdict(self.rule), "runtime_s": round(seconds, 1),
            "written": ledger.written, "deleted": ledger.deleted, "deleted_event_segments": ledger.deleted_events,
            "on_disk": sum(1 for _ in ledger.present()), "events": self.motion.events, "linked": self.motion.linked,
            "hours_checked": self.hours_checked, "checks": self.checks,
            "passes": _spread([ms for _, ms, _ in self.passes]),
            "deleted_per_pass": _spread([float(n) for _, _, n in self.passes]),
            "violations": self.violations.kinds, "violation_total": self.violations.total,
            "kept": self.kept, "repeated_hour_segments": self.repeated_hour, "names_stepped_aside": self.stepped_aside,
            "clock_step": self.step, "unreadable": self.unreadable, "outside_paths": self.outside_paths,
            "write_errors": self.write_errors, "logs": {"counts": self.logs.counts, "first": self.logs.first},
            "timings": timings,
        }


def run(phase: Phase, unprivileged: bool = True) -> dict[str, Any]:
    """Mount a tmpfs, lay it out, simulate (as the unprivileged user), unmount; the report."""
    os.environ["TZ"] = TZ   # local time, as the recorders name segments, has a clock change
    time.tzset()
    tmp = Path(tempfile.mkdtemp(prefix="sht-month-run-"))
    try:
        os.chmod(tmp, 0o755)
        with tmpfs(phase.disk_mb * MB) as mount:
            layout = lay_out(mount)
            cfg = config(phase, layout, tmp / "sht")
            if not unprivileged:
                return Simulation(phase, layout, cfg, None).run()
            return as_user(mount, [tmp], lambda sudo: Simulation(phase, layout, cfg, sudo).run())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def warm_up() -> None:
    """A few simulated hours here, as root: every module the simulation uses gets imported."""
    run(Phase("warm-up", datetime(2026, 10, 24, 22, 0), days=0.1, disk_mb=3, mean_segment_bytes=4000,
              rule=Rule(keep_continuous_hours=0.5), step_at_h=1.0, timings=True), unprivileged=False)
