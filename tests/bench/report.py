"""The benchmark report: one Markdown document and one JSON document from section results.

A section is ``ok`` (ran, its figures follow), ``failed`` (raised; the error is shown and
the other sections still run), ``skipped`` (it cannot measure here and says why, e.g. footage
that was not brought) or ``not available`` (its module is not there yet).  A
figure with a target is PASS, FAIL, or NOT MEASURED when its value could not be taken.
"""
from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.bench.figures import Figure, SectionSkipped

OK, FAILED, MISSING, SKIPPED = "ok", "failed", "not available", "skipped"
GOAL_S = {True: 180.0, False: 840.0}   # how long --quick and a full run should take


@dataclass
class SectionResult:
    name: str
    module: str
    status: str = OK
    seconds: float = 0.0
    error: str = ""
    figures: list[Figure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "module": self.module, "status": self.status,
                "seconds": round(self.seconds, 2), "error": self.error, "warnings": list(self.warnings),
                "figures": [_clean(f.as_dict()) for f in self.figures]}


def verdict(fig: Figure) -> str:
    """PASS, FAIL, NOT MEASURED, or '' for a figure without a target."""
    if not fig.target:
        return ""
    if fig.passed is None or _missing(fig.median):
        return "NOT MEASURED"
    return "PASS" if fig.passed else "FAIL"


def _missing(value: float) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _clean(value: Any) -> Any:
    """JSON has no NaN: missing numbers become null."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def number(value: float, digits: int = 3) -> str:
    """``digits`` significant figures (at least the integer part), without exponents for our sizes."""
    if _missing(value):
        return "n/a"
    if value == 0:
        return "0"
    mag = abs(value)
    if mag < 0.001:
        return f"{value:.{digits}g}"
    whole = len(str(int(mag))) if mag >= 1 else 0
    if mag >= 1:
        decimals = max(0, digits - whole)
    else:
        decimals = digits - 1 - math.floor(math.log10(mag))  # leading zeros after the point
    return f"{value:.{decimals}f}"


def machine() -> dict[str, Any]:
    """What the figures were measured on; a ratio only makes sense on one machine and one run."""
    model = platform.processor() or platform.machine()
    info: dict[str, str] = {}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            info.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    # x86 names the CPU in "model name"; a Raspberry Pi names the board in "Model".
    for key in ("model name", "hardware"):
        if info.get(key):
            model = info[key]
            break
    if info.get("model") and not info["model"].isdigit():
        model = f"{info['model']} ({model})"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                timeout=5, cwd=os.path.dirname(__file__)).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"cpu": model, "cores": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()],
            "python": sys.version.split()[0], "platform": platform.platform(), "commit": commit,
            "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}


def counts(results: list[SectionResult]) -> dict[str, int]:
    tally = {"PASS": 0, "FAIL": 0, "NOT MEASURED": 0}
    for res in results:
        for fig in res.figures:
            v = verdict(fig)
            if v:
                tally[v] += 1
    return tally


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(results: list[SectionResult], meta: dict[str, Any]) -> str:
    lines = ["# Benchmark report", ""]
    goal = GOAL_S[bool(meta.get("quick"))]
    total = float(meta.get("seconds", 0))
    lines.append(f"- Mode: {'quick' if meta.get('quick') else 'full'}; total {total:.0f} s"
                 + (f" (over the {goal:.0f} s this mode should take)" if total > goal else ""))
    m = meta.get("machine", {})
    if m:
        lines.append(f"- Machine: {m.get('cpu')}, {m.get('cores')} cores, load average "
                     f"{' '.join(str(x) for x in m.get('load_avg', []))} at start; Python {m.get('python')}")
        lines.append(f"- Commit: {m.get('commit') or 'unknown'}; {m.get('date_utc')} UTC")
    lines.append("- Median and spread ((max - min) / 2) over the runs shown; ratios are measured in the same run.")
    lines += ["", "## Sections", "", "| section | status | time (s) | figures |", "|---|---|---:|---:|"]
    for res in results:
        status = {FAILED: f"FAILED: {_cell(res.error)}", SKIPPED: f"skipped: {_cell(res.error)}"}.get(res.status,
                                                                                                  res.status)
        lines.append(f"| {res.name} | {status} | {res.seconds:.1f} | {len(res.figures)} |")
    lines += ["", "## Figures", "",
              "| section | figure | median | spread | unit | runs | target | result |",
              "|---|---|---:|---:|---|---:|---|---|"]
    for res in results:
        for fig in res.figures:
            # A figure with a target gets one more digit, so 2.997 does not read as 3.00 next to FAIL.
            median = number(fig.median, 4 if fig.target else 3)
            lines.append(f"| {_cell(res.name)} | {_cell(fig.name)} | {median} | "
                         f"{number(fig.spread)} | {_cell(fig.unit)} | {fig.runs} | {_cell(fig.target)} | "
                         f"{verdict(fig)} |")
    tally = counts(results)
    lines += ["", "## Targets", "",
              f"{tally['PASS']} passed, {tally['FAIL']} failed, {tally['NOT MEASURED']} not measured."]
    checked = [(res, fig) for res in results for fig in res.figures if fig.target]
    for res, fig in checked:
        v = verdict(fig)
        if v != "PASS":
            lines.append(f"- {v}: {res.name} / {fig.name} = {number(fig.median, 4)} {fig.unit} "
                         f"(target {fig.target})" + (f": {fig.note}" if fig.note else ""))
    missing = [res.name for res in results if res.status == MISSING]
    skipped = [f"{res.name} ({res.error})" for res in results if res.status == SKIPPED]
    failed = [f"{res.name} ({res.error})" for res in results if res.status == FAILED]
    if missing:
        lines.append(f"- Sections not available: {', '.join(missing)}.")
    if failed:
        lines.append(f"- Sections that failed: {'; '.join(failed)}.")
    if skipped:
        lines.append(f"- Sections skipped: {'; '.join(skipped)}.")
    notes = [(res, fig) for res in results for fig in res.figures if fig.note and verdict(fig) in ("", "PASS")]
    warnings = [(res, w) for res in results for w in res.warnings]
    if notes or warnings:
        lines += ["", "## Notes", ""]
        for res, fig in notes:
            lines.append(f"- {res.name} / {fig.name}: {fig.note}")
        for res, w in warnings:
            lines.append(f"- {res.name}: {w}")
    return "\n".join(lines) + "\n"


def as_json(results: list[SectionResult], meta: dict[str, Any]) -> dict[str, Any]:
    figures = []
    for res in results:
        for fig in res.figures:
            d = _clean(fig.as_dict())
            d["result"] = verdict(fig) or None
            figures.append(d)
    return {"meta": _clean(meta), "targets": counts(results),
            "sections": [res.as_dict() for res in results], "figures": figures}


def run_alone(section: str, module: str, run: Callable[[bool], list[Figure]]) -> None:
    """``python -m tests.bench.<section>_bench [--quick]``: one section's report."""
    quick = "--quick" in sys.argv
    try:
        result = SectionResult(section, module, figures=run(quick))
    except SectionSkipped as exc:
        result = SectionResult(section, module, status=SKIPPED, error=str(exc))
    print(markdown([result], {"quick": quick}))
