"""``python -m tests.soak --minutes N``: the whole tree under a real supervisord for N minutes.

Retention works on a small real disk (a tmpfs the soak mounts: run it as root), viewers of
every kind join and leave from several loopback addresses, and a random program is killed
with ``kill -9`` every 5 minutes (once, in the middle, in a run of 5 minutes or less).  It
prints, per program, memory (RSS, PSS, USS) and open files at the start and at the end, the
frames the recorders dropped and the holes in the archive outside and inside the restart
windows of the killed programs, the health at the end and the whole tree's PSS, then the
verdicts (:mod:`tests.support.soak`, :mod:`tests.support.soak_report`).

    python -m tests.soak --minutes 3
    python -m tests.soak --minutes 60 --seed 7 --json soak.json --keep /tmp/soak1

Exit code: 0 when every judged target holds, 1 when one fails, 2 when the soak cannot run.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

from tests.support.soak import run_soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the soak (default 3)")
    parser.add_argument("--seed", type=int, default=None, help="which programs are killed (default: random)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    parser.add_argument("--keep", type=Path, default=None,
                        help="install in this folder and keep it: logs, state (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    seed = random.randrange(1 << 30) if args.seed is None else args.seed
    with tempfile.TemporaryDirectory(prefix="sht-soak-") as tmp:
        try:
            report = run_soak(args.minutes, seed, args.keep or Path(tmp), say=lambda line: print(line, flush=True))
        except RuntimeError as exc:
            print(f"soak: {exc}", file=sys.stderr)
            return 2
    print(report.text())
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_dict(), indent=1))
    return 1 if report.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
