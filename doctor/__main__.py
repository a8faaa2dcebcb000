"""``python -m doctor [--seconds S]``: the self-check to run on the Pi and paste into an issue
(``python -m capture --check`` runs it too).

It describes the machine and the versions of the libraries the camera path depends on,
checks what usually breaks on a Pi in the field (doctor.field: a venv without the OS's
picamera2, device permissions, CMA, power and heat, the rings' memory order), lists the
cameras, their connector and sensor modes, opens each camera with the project's own
configuration and measures the rate both streams achieve, their colour space, the sensor
mode chosen with its field of view and the focus, reports
the H.264 encoder the recorder would choose and its CPU at 720p, the JPEG time per view,
free disk, rpicam-vid and the video devices.  Exit 0 when everything needed works, 1 otherwise.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from common.config import Config, load_or_exit
from doctor.cameras import check_cameras, list_cameras, owner, pictures
from doctor.encoders import check_h264, check_jpeg
from doctor.field import Machine, check_field
from doctor.report import Report
from doctor.system import check_devices, check_disk, check_machine, check_rpicam, versions


def run(cfg: Config, seconds: float = 10.0, out: Callable[[str], None] = print, machine: Machine | None = None) -> int:
    """Every check in order, printed as it goes; the exit code."""
    report = Report(out=out)
    report.title()
    check_machine(report)
    versions(report)
    check_field(cfg, report, machine, opened=sum(1 for cam in range(cfg.camera.count) if owner(cfg, cam)))
    list_cameras(report)
    plan = check_cameras(cfg, report, seconds)
    shown = pictures(plan, cfg)
    check_h264(cfg, report, shown)
    check_jpeg(cfg, report, shown)
    check_disk(cfg, report)
    check_rpicam(cfg, report)
    check_devices(report)
    return report.result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m doctor", description="Check the camera system on this machine.")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each camera is measured")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return run(load_or_exit(), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
