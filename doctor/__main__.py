"""``python -m doctor [--seconds S]``: the self-check to run on the Pi and paste into an issue
(``python -m capture --check`` runs it too).  Exit 0 when everything needed works, 1 otherwise.
"""
from __future__ import annotations

import argparse
import logging
import sys

from common.config import load_or_exit
from doctor.check import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m doctor", description="Check the camera system on this machine.")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each camera is measured")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return run(load_or_exit(), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
