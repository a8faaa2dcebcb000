"""``python -m tests.month``: a month with a full disk, simulated, with its figures and every violation.

    python -m tests.month                  # the month, then a month of rows
    python -m tests.month --only month     # or --only rows
    python -m tests.month --ci             # the short version the tests run (under a minute)
    python -m tests.month --only month --days 5   # the month's first 5 days only, at its settings
    python -m tests.month --json report.json

Two phases (:mod:`tests.support.month_sim`), each on its own tmpfs, run as root (it mounts the
tmpfs and runs the recorders as the unprivileged user ``nobody``), in Europe/Berlin time:

* **month**: 31 days from 10 October 2026, across the night the clocks go back (25 October), on
  a 320 MB disk that holds about three days: a 64 GB card with sizes and limits divided by 200.
  The wall clock steps back 30 minutes on 18 October; camera 1's oldest day folder is root's,
  mode 0700, for a day from 28 October.  Every hour and after every retention pass, the retention
  rule is checked.
* **rows**: a month of segments held at once (sizes divided by about 1700, a page each), so the
  archive holds about 170,000 segments when retention starts.  The first 29.5 days are laid down
  fast (the same files, names and write order; rows and event links added, and retention run, once
  an hour: the disk is not full yet), the rest is simulated in full; retention passes are timed
  and judged over the last day, then ``/api/recordings?date=`` of a full day and ``/api/health``.

Exit code: 0 when nothing was violated, 1 when something was, 2 when it cannot run here.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

from tests.support import month_sim
from tests.support.month_rule import Rule
from tests.support.month_sim import Phase

DAY_H = 24.0

MONTH = Phase("month", datetime(2026, 10, 10), days=31, disk_mb=320, mean_segment_bytes=16_000,
              step_at_h=8 * DAY_H + 14, step_s=-1800, unreadable_at_h=18 * DAY_H + 6, unreadable_h=DAY_H)
ROWS = Phase("rows", datetime(2026, 10, 1), days=32, disk_mb=760, mean_segment_bytes=1_900,
             fill_days=29.5, check_from_h=31 * DAY_H, timings=True)
CI = Phase("ci", datetime(2026, 10, 24, 16), days=0.85, disk_mb=20, mean_segment_bytes=8_000,
           rule=Rule(keep_continuous_hours=3, event_share_percent=40, event_keep_days=0.25),
           step_at_h=14, step_s=-1800, unreadable_at_h=10, unreadable_h=6)
PHASES = {"month": MONTH, "rows": ROWS}


def _line(name: str, value: object) -> str:
    return f"| {name} | {value} |"


def markdown(report: dict[str, Any]) -> str:
    kept, rule = report["kept"], report["rule"]
    lines = [f"## {report['phase']}: {report['days']} days from {report['start']} ({report['tz']})", "",
             f"{report['disk_mb']} MB tmpfs, segments {report['mean_segment_kb']} kB on average (the Pi's / "
             f"{report['scale']}); rule: {rule['keep_continuous_hours']:g} h continuous, events up to "
             f"{rule['event_share_percent']:g}% and {rule['event_keep_days']:g} days; "
             f"run in {report['runtime_s']} s", "", "| figure | value |", "|---|---|",
             _line("violations (target 0)", report["violation_total"]),
             _line("segments written / deleted / on the disk", f"{report['written']} / {report['deleted']} / "
                                                                f"{report['on_disk']}"),
             _line("event segments deleted", report["deleted_event_segments"]),
             _line("motion events / linked to segments", f"{report['events']} / {report['linked']}"),
             _line("hours checked", report["hours_checked"]),
             _line("retention checks / passes that deleted", f"{report['checks']} / {report['passes']['count']}"),
             _line("retention pass, ms (median, p95, max)", _three(report["passes"])),
             _line("segments deleted per pass (median, p95, max)", _three(report["deleted_per_pass"])),
             _line("disk first full at hour", kept.get("disk_full_at_h")),
             _line("continuous hours kept: least / at the end", f"{kept.get('continuous_h_min')} / "
                                                                 f"{kept.get('continuous_h_last')}"),
             _line("event share at the end, % / oldest event kept, days", f"{kept.get('event_share_percent_last')} / "
                                                                          f"{kept.get('event_days_last')}"),
             _line("hours of each camera on the disk at the end", kept.get("on_disk_h_last")),
             _line("segments begun in the repeated hour, per camera", report["repeated_hour_segments"]),
             _line("names stepped aside from a taken one", report["names_stepped_aside"]),
             _line("clock step", report["clock_step"] or "none"),
             _line("unreadable folder", report["unreadable"] or "none"),
             _line("paths outside the root watched", report["outside_paths"]),
             _line("the system's warnings and errors", report["logs"]["counts"])]
    timings = report.get("timings")
    if timings:
        lines += [_line(f"rows in the archive index at the end ({timings['day_segments']} in day {timings['day']})",
                        timings["rows"]),
                  _line("retention check over the last day (every check, each camera), ms (median, p95, max)",
                        _three(timings["check_ms"])),
                  _line("retention pass that deleted, over the last day, ms (median, p95, max)",
                        _three(timings["pass_ms"])),
                  _line("segments it deleted (median, p95, max)", _three(timings["deleted_per_pass"])),
                  _line("GET /api/recordings?date= of that day, ms (median, p95, max)",
                        _three(timings["recordings_ms"])),
                  _line("/api/health's function, ms (median, p95, max)", _three(timings["health_ms"]))]
    if report["violations"]:
        lines += ["", "| violation | count | first examples |", "|---|---|---|"]
        for kind, entry in sorted(report["violations"].items(), key=lambda kv: -kv[1]["count"]):
            lines.append(f"| {kind} | {entry['count']} | {'<br>'.join(entry['examples'])} |")
    if report["logs"]["first"]:
        lines += ["", "First warnings and errors:", *[f"- {m}" for m in report["logs"]["first"]]]
    return "\n".join(lines)


def _three(spread: dict[str, Any]) -> str:
    if not spread.get("count"):
        return "none"
    return f"{spread['median']}, {spread['p95']}, {spread['max']} (n={spread['count']})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.month", description=__doc__.split("\n")[0])
    parser.add_argument("--ci", action="store_true", help="the short version the tests run")
    parser.add_argument("--only", choices=sorted(PHASES), help="one phase of the full run")
    parser.add_argument("--days", type=float, help="simulate only the first this many days of each phase "
                        "(the rows phase checks from day 31 on: fewer days check nothing there)")
    parser.add_argument("--json", help="write the reports to this file")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("python -m tests.month mounts a tmpfs and runs the recorders as another user: run it as root",
              file=sys.stderr)
        return 2
    phases = [CI] if args.ci else [PHASES[args.only]] if args.only else list(PHASES.values())
    if args.days is not None:
        phases = [replace(p, days=min(p.days, args.days)) for p in phases]
    started = time.perf_counter()
    month_sim.warm_up()
    reports = []
    for phase in phases:
        report = month_sim.run(phase)
        reports.append(report)
        print(markdown(report), end="\n\n", flush=True)
    print(f"all in {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(reports, fh, indent=1)
    return 1 if any(r["violation_total"] for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
