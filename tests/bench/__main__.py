"""``python -m tests.bench``: measure everything and print one Markdown report.

    python -m tests.bench                 # full run (under 10 minutes)
    python -m tests.bench --quick         # fewer, shorter runs (under 2 minutes)
    python -m tests.bench --only ring,peer --json report.json

Each section is a module ``tests/bench/<section>_bench.py`` with ``run(quick) -> list[Figure]``
that starts its own processes (own ring prefix, port and folders, so it runs beside a live
system) and stops them.  A section that raises is reported as FAILED and the others go on;
a section whose module is missing is "not available".

Exit code: 0 when the report was made (even if targets fail: the report says which),
1 when a section failed (raised or overran its time budget), or with ``--strict`` when a
target failed or could not be measured (a section skipped or not available too), 2 for a bad
command line.
"""
from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import psutil

from tests.bench.figures import SectionSkipped
from tests.bench.report import FAILED, MISSING, SKIPPED, SectionResult, as_json, counts, machine, markdown

# Run order: the cheap, isolated measurements first, the whole tree last.
SECTIONS: list[tuple[str, str]] = [
    ("ring", "tests.bench.ring_bench"),
    ("capture", "tests.bench.capture_bench"),
    ("streamer", "tests.bench.streamer_bench"),
    ("slow_viewer", "tests.bench.slow_viewer_bench"),
    ("recorder", "tests.bench.recorder_bench"),
    ("recorder_under_load", "tests.bench.recorder_under_load_bench"),
    ("peer", "tests.bench.peer_bench"),
    ("tree", "tests.bench.tree_bench"),
]
BENCH_DIR = Path(__file__).resolve().parent


def discover(bench_dir: Path = BENCH_DIR) -> list[tuple[str, str]]:
    """The known sections in their order, plus any other ``*_bench.py`` found (before the
    whole tree, which stays last: it is the sum of the parts)."""
    known = {module for _, module in SECTIONS}
    extra = sorted((path.stem[:-len("_bench")], f"tests.bench.{path.stem}")
                   for path in bench_dir.glob("*_bench.py") if f"tests.bench.{path.stem}" not in known)
    return SECTIONS[:-1] + extra + SECTIONS[-1:]


# A section that hangs must not hang the report: it is stopped after this long.
BUDGET_S = {True: 90.0, False: 420.0}
# Full runs that need longer: the streamer measures each further viewer in paired runs
# (two streamers at once, 4 rounds per view and viewer count), about 410 s here.
LONGER_S = {"streamer": 600.0}


class SectionOverran(BaseException):
    """Raised in the section's main thread by a timer; not an Exception, so a section's own
    ``except Exception`` does not swallow it, while its ``finally`` clean-up still runs."""


def _on_alarm(signum: int, frame: object) -> None:
    raise SectionOverran("exceeded its time budget")


def _load(module: str) -> Callable[[bool], list] | None:
    """The section's ``run``; None when the module itself does not exist (yet)."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise
    return mod.run


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _reap_children(res: SectionResult, before: set[int]) -> None:
    """Processes a section started and left running are stopped (SIGTERM, so a capture
    process still removes its rings; SIGKILL after a grace period) and reported."""
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    for child in left:
        try:
            res.warnings.append(f"left process {child.pid} ({' '.join(child.cmdline()[1:4])}) running; ended it")
            child.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(left, timeout=3)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=3)


def run_section(name: str, module: str, quick: bool, budget_s: float) -> SectionResult:
    res = SectionResult(name, module)
    before = _children()
    start = time.monotonic()
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, budget_s)
    try:
        run = _load(module)
        if run is None:
            res.status = MISSING
        else:
            figures = run(quick)
            res.figures = list(figures or [])
    except SectionSkipped as exc:
        res.status, res.error = SKIPPED, str(exc)
    except (Exception, SectionOverran) as exc:
        res.status = FAILED
        res.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, SectionOverran):
            res.error = f"exceeded its time budget of {budget_s:.0f} s"
        res.warnings.append("traceback: " + " | ".join(
            line.strip() for line in traceback.format_exception(exc)[-4:]))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        res.seconds = time.monotonic() - start
    _reap_children(res, before)
    return res


def select(only: str | None, sections: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    sections = discover() if sections is None else sections
    if not only:
        return list(sections)
    known = dict(sections)
    wanted = [part.strip().replace("-", "_").replace(" ", "_") for part in only.split(",") if part.strip()]
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise ValueError(f"--only {', '.join(unknown)}: allowed values are {', '.join(known)}")
    return [(name, module) for name, module in sections if name in wanted]


def run_all(sections: list[tuple[str, str]], quick: bool, budget_s: float | None = None,
            progress: Callable[[str], None] | None = None) -> tuple[list[SectionResult], dict]:
    budget = BUDGET_S[quick] if budget_s is None else budget_s
    meta = {"quick": quick, "machine": machine(), "sections": [name for name, _ in sections]}
    start = time.monotonic()
    results = []
    for name, module in sections:
        if progress:
            progress(f"[bench] {name} ...")
        own = budget if budget_s is not None or quick else LONGER_S.get(name, budget)
        res = run_section(name, module, quick, own)
        if progress:
            progress(f"[bench] {name}: {res.status}{' (' + res.error + ')' if res.error else ''}, "
                     f"{len(res.figures)} figures, {res.seconds:.1f} s")
        results.append(res)
    meta["seconds"] = round(time.monotonic() - start, 1)
    return results, meta


def exit_code(results: list[SectionResult], strict: bool) -> int:
    if any(res.status == FAILED for res in results):
        return 1
    tally = counts(results)
    if strict and (tally["FAIL"] or tally["NOT MEASURED"] or any(r.status in (MISSING, SKIPPED) for r in results)):
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs (under 2 minutes)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure and verdict as JSON")
    parser.add_argument("--only", metavar="LIST",
                        help=f"comma-separated sections: {', '.join(n for n, _ in discover())}")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target fails or is not measured")
    args = parser.parse_args(argv)
    try:
        sections = select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    results, meta = run_all(sections, args.quick, progress=lambda s: print(s, file=sys.stderr, flush=True))
    print(markdown(results, meta), end="")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(as_json(results, meta), indent=2) + "\n")
    return exit_code(results, args.strict)


if __name__ == "__main__":
    sys.exit(main())
