"""The machine the cameras run on: model and CPU, Python, the versions of the libraries the
camera path depends on, free disk for recordings, rpicam-vid and the video devices."""
from __future__ import annotations

import importlib
import os
import platform
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from capture.sources import picam
from capture.sources.devices import usb_webcams, video_devices
from common.config import Config
from doctor.report import Report
from recorder.rpicam import board_model, build_problem, remux_problem, rpicam_build


def _machine() -> str:
    model = ""
    try:
        model = Path("/proc/device-tree/model").read_text().strip("\x00\n ")
    except OSError:
        pass
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.lower().startswith(("model name", "hardware"))), platform.machine())
    return f"{model or 'not a Raspberry Pi'}; {cpu}, {os.cpu_count()} CPUs; {platform.platform()}"


def check_machine(report: Report) -> None:
    report.add("machine", _machine())
    report.add("Python", f"{platform.python_version()} ({sys.executable})")


def _where(module: Any) -> str:
    path = str(getattr(module, "__file__", "") or "")
    if sys.prefix != sys.base_prefix and path.startswith(sys.prefix):
        return "venv"
    if "/dist-packages/" in path or path.startswith("/usr/lib/python3"):
        return "OS"
    return "site-packages" if "site-packages" in path else (path or "?")


def _command_line(cmd: list[str], prefix: str) -> str:
    """The rest of the first output line starting with ``prefix`` ('' when the command fails)."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode != 0:
        return ""
    return next((line[len(prefix):].strip() for line in out.stdout.splitlines() if line.startswith(prefix)), "")


def versions(report: Report) -> None:
    found = {}
    for name in ("numpy", "simplejpeg", "av"):
        try:
            # By name, inside the try: a library that cannot be imported (e.g. the OS's
            # simplejpeg built against another numpy) is what this line reports.
            module = importlib.import_module(name)
            found[name] = _where(module)
            extra = ""
            if name == "av":
                ffmpeg = getattr(module, "ffmpeg_version_info", "")
                extra = f", FFmpeg {ffmpeg}" if ffmpeg else ""
            report.add(name if name != "av" else "PyAV", f"{module.__version__} ({found[name]}{extra})")
        except Exception as exc:
            report.problem(name, f"cannot be imported: {picam.one_line(exc)}")
    if picam.installed():
        error = picam.import_error()
        if error:
            report.problem("picamera2", f"installed but cannot be imported: {error}")
        else:
            import picamera2  # only here: it exists on a Pi alone (it needs libcamera)
            try:
                v = version("picamera2")
            except PackageNotFoundError:
                v = "?"
            report.add("picamera2", f"{v} ({_where(picamera2)})")
    else:
        report.add("picamera2", "not installed")
    libcamera = _command_line(["rpicam-hello", "--version"], "libcamera build:") or \
        _command_line(["dpkg-query", "-W", "-f", "${Version}\n", "python3-libcamera"], "")
    report.add("libcamera", libcamera or "not found")
    if found.get("numpy") == "venv" and found.get("simplejpeg") == "OS":
        report.problem("numpy", "the venv has its own numpy but simplejpeg comes from the OS, which was built "
                                "against the OS's numpy: remove the venv's (.venv/bin/pip uninstall numpy)")


def check_disk(cfg: Config, report: Report) -> None:
    root = cfg.recordings_root
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free / 1e9
    text = f"{free:.1f} GB free under {root} (recorder.free_floor_gb = {cfg.recorder.free_floor_gb:g})"
    if free < cfg.recorder.free_floor_gb:
        report.problem("disk", text)
    else:
        report.add("disk", text)


def check_rpicam(cfg: Config, report: Report) -> None:
    exe = cfg.recorder.rpicam_vid
    if cfg.recorder.engine != "rpicam-vid" and shutil.which(exe) is None:
        return
    build = rpicam_build(exe)
    libav = {True: "libav encoder present", False: "no libav encoder", None: "libav not reported"}[build.libav]
    problem = build_problem(build, board_model())
    if cfg.recorder.engine == "rpicam-vid" and (problem or build.version is None or remux_problem()):
        report.problem("rpicam-vid", problem or remux_problem() or f"cannot be run: {build.line}")
    else:
        report.add("rpicam-vid", f"{build.line or 'version unknown'}; {libav}{'; ' + problem if problem else ''}")


def check_devices(report: Report) -> None:
    devices = video_devices()
    shown = ", ".join(f"{d.node} {d.driver or '?'}" for d in devices[:12]) or "none"
    report.add("video devices", shown + (" ..." if len(devices) > 12 else ""))
    webcams = usb_webcams()
    if webcams:
        report.add("USB webcams", f"{', '.join(webcams)} (for camera.v4l2_devices)")
