"""What breaks a Pi camera system in the field, each a PROBLEM line of its own: too little
contiguous memory (CMA) for the camera buffers, device nodes this user may not open, power
and heat (under-voltage, throttling, temperature), a venv that cannot see the OS's
picamera2, and the rings running without a memory barrier on ARM.

Every path is read through :class:`Machine`, so tests point the checks at a folder of their
own and at made-up command output.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from capture.sources import picam
from capture.sources.devices import access_problem, camera_nodes, in_video_group, pi_camera_devices
from common.config import Config
from common.process.fence import MECHANISM, unordered_risk
from doctor.report import Report

HOT_C = 80.0                     # a Pi 5 starts lowering its clock here
STRIDE_ALIGN = 128               # YUV420 rows on a Pi 5 (see the Picamera2 facts)
# The largest raw frame of a full-view mode of the supported sensors: the HQ camera's
# 2028x1520 at 12 bits, packed (1.5 bytes a pixel), rows aligned to 32 bytes.
def _align(n: int, to: int) -> int:
    return -(-n // to) * to


RAW_FRAME_BYTES = _align(2028 * 3 // 2, 32) * 1520

# get_throttled bits (Raspberry Pi documentation, vcgencmd): now, and since boot (+16).
_NOW = {0: "under-voltage", 1: "ARM frequency capped", 2: "throttled", 3: "soft temperature limit"}
_EVER_PROBLEM = {16: "under-voltage", 18: "throttling"}
_EVER_NOTE = {17: "ARM frequency capping", 19: "soft temperature limit"}


def _command(cmd: list[str]) -> str:
    """The command's standard output, '' when it cannot be run or fails."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout if out.returncode == 0 else ""


@dataclass(frozen=True)
class Machine:
    """Where the checks look."""

    proc: Path = Path("/proc")
    sys: Path = Path("/sys")
    dev: Path = Path("/dev")
    dist_packages: Path = Path("/usr/lib/python3/dist-packages")   # the OS's Python packages
    venv_cfg: Path = field(default_factory=lambda: Path(sys.prefix) / "pyvenv.cfg")
    command: Callable[[list[str]], str] = _command
    can_use: Callable[[Path], bool] | None = None                  # default: os.access read and write
    in_video_group: bool | None = None                             # default: this process's groups

    def read(self, path: Path) -> str:
        try:
            return path.read_text(errors="replace").strip("\x00\n ")
        except OSError:
            return ""

    def model(self) -> str:
        """The board's model ('' when not a device-tree machine), e.g. 'Raspberry Pi 5 Model B Rev 1.0'."""
        return self.read(self.proc / "device-tree" / "model")

    def is_pi(self) -> bool:
        return "Raspberry Pi" in self.model()


def check_field(cfg: Config, report: Report, machine: Machine | None = None, opened: int = 0) -> None:
    """Every field check, in the order a person would look; ``opened``: Pi cameras already
    held by running capture processes (their buffers are allocated)."""
    machine = Machine() if machine is None else machine
    check_venv(cfg, report, machine)
    check_access(report, machine)
    check_cma(cfg, report, machine, opened)
    check_power(report, machine)
    check_ring_order(report)


def _pi_cameras(cfg: Config) -> int:
    """Configured cameras that may be Pi cameras (source picamera2 or auto)."""
    return sum(1 for cam in range(cfg.camera.count) if cfg.camera_source(cam) in ("auto", "picamera2"))


# -- the Python environment ---------------------------------------------------------------------
def check_venv(cfg: Config, report: Report, machine: Machine, importable: bool | None = None) -> None:
    """On a Pi with a camera (or the OS's picamera2), a Python that cannot import picamera2 is
    a problem: auto would otherwise run the synthetic camera and call it OK."""
    if not machine.is_pi() or not _pi_cameras(cfg):
        return
    importable = (picam.installed() and not picam.import_error()) if importable is None else importable
    if importable:
        return
    os_copy = (machine.dist_packages / "picamera2").is_dir()
    cameras = pi_camera_devices(machine.sys / "class" / "video4linux")
    if not os_copy and not cameras:
        return
    cfg_text = machine.read(machine.venv_cfg)
    closed = "include-system-site-packages = false" in cfg_text.replace("\t", " ").lower()
    seen = f"a camera is attached ({', '.join(cameras)})" if cameras else "the OS has picamera2"
    if closed:
        why = (f"this venv was made without --system-site-packages ({machine.venv_cfg}): remake it with "
               f"`python3 -m venv --system-site-packages .venv`, or set include-system-site-packages = true there")
    elif not os_copy:
        why = "picamera2 is not installed: sudo apt install python3-picamera2"
    else:
        why = f"picamera2 cannot be imported: {picam.import_error() or 'not found by ' + sys.executable}"
    report.problem("venv", f"{seen} but {sys.executable} cannot use picamera2: {why}")


# -- device nodes -------------------------------------------------------------------------------
def check_access(report: Report, machine: Machine) -> None:
    nodes = camera_nodes(machine.dev)
    if not nodes:
        report.add("device access", f"no camera device nodes under {machine.dev} (media*, video*, dma_heap/*)")
        return
    problem = access_problem(machine.dev, machine.can_use, machine.in_video_group)
    if problem:
        report.problem("device access", problem)
        return
    member = in_video_group() if machine.in_video_group is None else machine.in_video_group
    group = {True: "in the video group", False: "not in the video group", None: "no video group"}[member]
    report.add("device access", f"{len(nodes)} camera device nodes readable and writable ({group})")


# -- contiguous memory --------------------------------------------------------------------------
def _yuv420_bytes(size: tuple[int, int]) -> int:
    w, h = size
    return _align(w, STRIDE_ALIGN) * h * 3 // 2


def cma_need(cameras: int) -> int:
    """Bytes of camera buffers the capture processes allocate for ``cameras`` Pi cameras (estimate)."""
    per_request = _yuv420_bytes(picam.HD_SIZE) + _yuv420_bytes(picam.LORES_SIZE) + RAW_FRAME_BYTES
    return cameras * picam.BUFFER_COUNT * per_request


def _meminfo_kb(text: str, key: str) -> int | None:
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == key and rest.split():
            return int(rest.split()[0])
    return None


def check_cma(cfg: Config, report: Report, machine: Machine, opened: int = 0) -> None:
    """CMA free against what the Pi cameras not yet ``opened`` will allocate."""
    text = machine.read(machine.proc / "meminfo")
    total, free = _meminfo_kb(text, "CmaTotal"), _meminfo_kb(text, "CmaFree")
    if total is None or free is None:
        report.add("CMA", "none reported by the kernel (not a Pi)")
        return
    cameras = max(0, _pi_cameras(cfg) - opened)
    need_mb = cma_need(cameras) / 2**20
    line = (f"{free / 1024:.0f} MB free of {total / 1024:.0f} MB; the {cameras} Pi camera(s) to open need about "
            f"{need_mb:.0f} MB ({picam.BUFFER_COUNT} buffers of main, lores and raw each)")
    if free / 1024 < need_mb:
        report.problem("CMA", line + "; raise it in /boot/firmware/config.txt (e.g. dtoverlay=vc4-kms-v3d,cma-320) "
                                     "or stop what holds it")
    else:
        report.add("CMA", line)


# -- power and heat -----------------------------------------------------------------------------
def throttled(machine: Machine) -> int | None:
    """The firmware's get_throttled bits: from vcgencmd, else its sysfs node; None when neither answers."""
    out = machine.command(["vcgencmd", "get_throttled"]).strip()
    raw = out.partition("=")[2] if out.startswith("throttled=") else ""
    if not raw:
        # The firmware node: soc/soc:firmware on a Pi 4, soc@107c000000/soc@107c000000:firmware on a Pi 5.
        nodes = sorted(machine.sys.glob("devices/platform/*/*:firmware/get_throttled"))
        raw = machine.read(nodes[0]) if nodes else ""
    try:
        return int(raw, 16) if raw else None
    except ValueError:
        return None


def temperature_c(machine: Machine) -> float | None:
    """The CPU's temperature: the thermal zone of type cpu-thermal, else the first one."""
    zones = sorted((machine.sys / "class" / "thermal").glob("thermal_zone*"))
    zones.sort(key=lambda z: machine.read(z / "type") != "cpu-thermal")
    for zone in zones:
        raw = machine.read(zone / "temp")
        if raw.lstrip("-").isdigit():
            return int(raw) / 1000
    return None


def check_power(report: Report, machine: Machine) -> None:
    bits = throttled(machine)
    if bits is None:
        report.add("power", "throttling not reported (no vcgencmd, no firmware node)")
    else:
        now = [name for bit, name in _NOW.items() if bits >> bit & 1]
        ever = [name for bit, name in _EVER_PROBLEM.items() if bits >> bit & 1]
        noted = [name for bit, name in _EVER_NOTE.items() if bits >> bit & 1]
        if now or ever:
            parts = ([f"now: {', '.join(now)}"] if now else []) + ([f"since boot: {', '.join(ever)}"] if ever else [])
            report.problem("power", f"get_throttled = {bits:#x}: {'; '.join(parts)} (use the official 27 W supply "
                                    f"and cooling; recording drops frames when the CPU slows)")
        else:
            report.add("power", f"get_throttled = {bits:#x}: no under-voltage or throttling"
                       + (f" (since boot: {', '.join(noted)})" if noted else ""))
    temp = temperature_c(machine)
    if temp is None:
        report.add("temperature", "not reported")
    elif temp >= HOT_C:
        report.problem("temperature", f"{temp:.1f} °C: at or above {HOT_C:g} °C the CPU slows down; add cooling")
    else:
        report.add("temperature", f"{temp:.1f} °C")


# -- the rings ----------------------------------------------------------------------------------
def check_ring_order(report: Report) -> None:
    risk = unordered_risk()
    if risk:
        report.problem("ring memory order", risk)
    else:
        report.add("ring memory order", f"fence {MECHANISM} ({os.uname().machine})")
