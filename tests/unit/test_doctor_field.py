"""The self-check's field failures, each a PROBLEM line, on a made-up machine in a folder:
CMA, device permissions, power and heat, a venv blind to the OS's picamera2, the rings'
memory order; and what it says of each Pi camera (connector, sensor mode, focus)."""
from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from capture.sources.base import CameraAbsent
from common.config import load
from common.process import fence
from doctor.field import Machine, check_access, check_cma, check_power, check_ring_order, check_venv
from doctor.report import Report
from tests.support.procs import isolated_env

PI_MODEL = "Raspberry Pi 5 Model B Rev 1.0\x00"


def _cfg(tmp: Path, **keys: object):
    return load(isolated_env(tmp / "sht", **({"camera__source": "picamera2"} | keys)))


def _report() -> tuple[Report, list[str]]:
    out: list[str] = []
    return Report(out=out.append), out


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _line(out: list[str], label: str) -> str:
    return next(line for line in out if line.startswith(f"{label}: "))


# -- CMA ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("free_kb", "opened", "problem"), [(20_000, 0, True), (200_000, 0, False), (20_000, 2, False)])
def test_too_little_cma_for_the_cameras_still_to_open_is_a_problem(tmp_path: Path, free_kb: int, opened: int,
                                                                   problem: bool) -> None:
    _write(tmp_path / "proc" / "meminfo", f"MemTotal: 8000000 kB\nCmaTotal: 65536 kB\nCmaFree: {free_kb} kB\n")
    report, out = _report()
    check_cma(_cfg(tmp_path), report, Machine(proc=tmp_path / "proc"), opened)
    line = _line(out, "CMA")
    assert line.startswith("CMA: PROBLEM") == problem, line
    assert f"the {2 - opened} Pi camera(s) to open need about" in line


def test_no_cma_is_no_problem_off_a_pi(tmp_path: Path) -> None:
    _write(tmp_path / "proc" / "meminfo", "MemTotal: 8000000 kB\n")
    report, out = _report()
    check_cma(_cfg(tmp_path), report, Machine(proc=tmp_path / "proc"))
    assert _line(out, "CMA") == "CMA: none reported by the kernel (not a Pi)" and not report.problems


# -- device access ------------------------------------------------------------------------------
def _dev(tmp: Path) -> Path:
    for node in ("media0", "media1", "video0", "video19", "dma_heap/linux,cma", "dma_heap/system"):
        _write(tmp / "dev" / node, "")
    return tmp / "dev"


def test_devices_this_user_may_not_open_are_a_permission_problem(tmp_path: Path) -> None:
    dev = _dev(tmp_path)
    report, out = _report()
    check_access(report, Machine(dev=dev, can_use=lambda p: "dma_heap" in str(p), in_video_group=False))
    line = _line(out, "device access")
    assert line.startswith("device access: PROBLEM: permission denied:") and f"{dev}/media0" in line
    assert "is not in the 'video' group: sudo usermod -aG video" in line and "ribbon" not in line
    report, out = _report()
    check_access(report, Machine(dev=dev, can_use=lambda p: True, in_video_group=True))
    assert _line(out, "device access") == "device access: 6 camera device nodes readable and writable " \
                                          "(in the video group)"


def test_a_camera_hidden_by_permissions_is_not_called_a_loose_cable(fake, monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    from capture.sources import devices
    from capture.sources.picam import PicameraSource
    monkeypatch.setattr(devices, "DEV", _dev(tmp_path))
    monkeypatch.setattr(devices, "_read_write", lambda p: False)
    monkeypatch.setenv("FAKE_PICAMERA2_CAMERAS", "0")        # libcamera lists what it may open: nothing
    with pytest.raises(CameraAbsent, match="permission denied") as raised:
        PicameraSource(0, 30, 2.0).start()
    assert "ribbon" not in str(raised.value)


# -- power and heat -----------------------------------------------------------------------------
@pytest.mark.parametrize(("answer", "problem", "words"), [
    ("throttled=0x50005\n", True, "now: under-voltage, throttled; since boot: under-voltage, throttling"),
    ("throttled=0x0\n", False, "no under-voltage or throttling"),
    ("throttled=0x20000\n", False, "(since boot: ARM frequency capping)"),
])
def test_under_voltage_and_throttling_are_problems(tmp_path: Path, answer: str, problem: bool, words: str) -> None:
    report, out = _report()
    check_power(report, Machine(sys=tmp_path / "sys", command=lambda cmd: answer))
    line = _line(out, "power")
    assert line.startswith("power: PROBLEM") == problem and words in line, line


def test_throttling_is_read_from_the_firmware_node_without_vcgencmd(tmp_path: Path) -> None:
    _write(tmp_path / "sys/devices/platform/soc@107c000000/soc@107c000000:firmware/get_throttled", "50000\n")
    report, out = _report()
    check_power(report, Machine(sys=tmp_path / "sys", command=lambda cmd: ""))
    assert "since boot: under-voltage, throttling" in _line(out, "power")


@pytest.mark.parametrize(("millidegrees", "problem"), [("82350", True), ("54000", False)])
def test_a_hot_cpu_is_a_problem(tmp_path: Path, millidegrees: str, problem: bool) -> None:
    zones = tmp_path / "sys/class/thermal"
    _write(zones / "thermal_zone0/type", "rp1_adc\n")
    _write(zones / "thermal_zone0/temp", "30000\n")
    _write(zones / "thermal_zone1/type", "cpu-thermal\n")
    _write(zones / "thermal_zone1/temp", millidegrees + "\n")
    report, out = _report()
    check_power(report, Machine(sys=tmp_path / "sys", command=lambda cmd: "throttled=0x0"))
    line = _line(out, "temperature")
    assert line.startswith("temperature: PROBLEM") == problem and f"{int(millidegrees) / 1000:.1f} °C" in line


# -- the Python environment ---------------------------------------------------------------------
def _pi(tmp: Path, venv: str = "home = /usr/bin\ninclude-system-site-packages = false\n") -> Machine:
    _write(tmp / "proc/device-tree/model", PI_MODEL)
    (tmp / "dist-packages/picamera2").mkdir(parents=True)
    return Machine(proc=tmp / "proc", sys=tmp / "sys", dist_packages=tmp / "dist-packages",
                   venv_cfg=_write(tmp / "venv/pyvenv.cfg", venv))


def test_a_venv_without_system_site_packages_on_a_pi_is_a_problem(tmp_path: Path) -> None:
    report, out = _report()
    check_venv(_cfg(tmp_path, camera__source="auto"), report, _pi(tmp_path), importable=False)
    line = _line(out, "venv")
    assert line.startswith("venv: PROBLEM: the OS has picamera2 but") and "--system-site-packages" in line
    report, out = _report()
    check_venv(_cfg(tmp_path, camera__source="auto"), report, _pi(tmp_path / "ok"), importable=True)
    assert not out


def test_off_a_pi_no_picamera2_is_no_problem(tmp_path: Path) -> None:
    report, out = _report()
    check_venv(_cfg(tmp_path, camera__source="auto"), report, Machine(proc=tmp_path), importable=False)
    assert not out and not report.problems


@pytest.mark.slow
def test_the_whole_check_on_a_pi_without_picamera2_does_not_end_ok(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: auto found no picamera2 and no camera device here, ran the synthetic camera and
    # ended "RESULT: OK".
    import doctor.__main__ as doctor
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "fakes" not in p])
    out: list[str] = []
    code = doctor.run(_cfg(tmp_path, camera__source="auto", camera__count=1), 0.3, out.append, _pi(tmp_path))
    assert code == 1
    assert _line(out, "venv").startswith("venv: PROBLEM") and "RESULT: 1 problem(s): venv:" in out[-1]


# -- the rings' memory order ----------------------------------------------------------------------
def test_rings_without_a_barrier_on_arm_are_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    report, out = _report()
    check_ring_order(report)
    assert _line(out, "ring memory order").startswith("ring memory order: fence membarrier")
    monkeypatch.setattr(fence, "AVAILABLE", False)
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    report, out = _report()
    check_ring_order(report)
    assert _line(out, "ring memory order").startswith("ring memory order: PROBLEM: no memory barrier on aarch64")


# -- each Pi camera: connector, sensor mode, focus ---------------------------------------------
def test_the_check_names_the_connector_and_says_cam1_alone_is_camera_0(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    from doctor.cameras import list_cameras
    monkeypatch.setenv("FAKE_PICAMERA2_PORTS", "1")
    report, out = _report()
    assert list_cameras(report) == 1
    assert _line(out, "  camera 0").endswith("/i2c@80000/imx708@1a (CAM1)")
    assert "the camera on CAM1 is camera 0 while CAM0 is empty" in _line(out, "  numbering")


def test_the_check_reports_the_sensor_mode_its_field_of_view_and_the_focus(fake, monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    from doctor.cameras import check_cameras
    monkeypatch.setenv("FAKE_PICAMERA2_SENSORS", "imx477")
    report, out = _report()
    check_cameras(_cfg(tmp_path, camera__count=1), report, 0.2)
    assert _line(out, "camera 0 sensor mode") == ("camera 0 sensor mode: 2028x1520 12-bit up to 40.0 fps, reads "
                                                  "4056x3040 at (0, 0): the picture shows 75% of the sensor")
    assert _line(out, "camera 0 focus") == "camera 0 focus: fixed focus (the camera has no autofocus)"
