"""What ``rpicam-vid --version`` says, and what the recorder and the self-check make of it:
too old, no libav encoder (the ``rpicam-apps-encoder`` package missing), or a PyAV that cannot
remux.  The texts are rpicam-apps' own (core/options.cpp and core/version.cpp.in)."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.config import load
from doctor.report import Report
from doctor.system import check_rpicam
from recorder import rpicam
from recorder.rpicam import NO_LIBAV, RpicamBuild, build_problem, remux_problem
from tests.support.procs import REPO, isolated_env

FAKE = REPO / "tests" / "fakes" / "rpicam-vid"
PI5 = "Raspberry Pi 5 Model B Rev 1.0"
WITH_LIBAV = """rpicam-apps build: v1.9.1 5e4f0ac5 02-09-2025 (15:38:02)
rpicam-apps capabilites: egl:1 qt:1 drm:1 libav:1
libcamera build: v0.5.2+99-bfd68f78
"""
LITE = WITH_LIBAV.replace("egl:1 qt:1 drm:1 libav:1", "egl:0 qt:0 drm:1 libav:0")
BEFORE_CAPABILITIES = "rpicam-apps build: v1.5.3 50958df9 17-01-2025 (10:00:00)\nlibcamera build: v0.4.0\n"


def test_the_capability_line_says_whether_the_libav_encoder_is_there() -> None:
    full, lite, old = (RpicamBuild.parse(t) for t in (WITH_LIBAV, LITE, BEFORE_CAPABILITIES))
    assert full == RpicamBuild((1, 9, 1), "rpicam-apps build: v1.9.1 5e4f0ac5 02-09-2025 (15:38:02)", True)
    assert lite.libav is False and lite.version == (1, 9, 1)
    assert old.libav is None and old.version == (1, 5, 3)
    assert RpicamBuild.parse("").version is None


@pytest.mark.parametrize("model", [PI5, "Raspberry Pi 500 Rev 1.0", "Raspberry Pi Compute Module 5 Rev 1.0", ""])
def test_without_libav_a_board_with_no_hardware_encoder_is_refused(model: str) -> None:
    assert build_problem(RpicamBuild.parse(LITE), model) == NO_LIBAV
    assert build_problem(RpicamBuild.parse(WITH_LIBAV), model) == ""


@pytest.mark.parametrize("model", ["Raspberry Pi 4 Model B Rev 1.4", "Raspberry Pi 400 Rev 1.0",
                                   "Raspberry Pi 3 Model B Plus Rev 1.3", "Raspberry Pi Zero 2 W Rev 1.0",
                                   "Raspberry Pi Compute Module 4 Rev 1.0", "Raspberry Pi Model B Plus Rev 1.2"])
def test_a_board_that_encodes_in_hardware_records_without_libav(model: str) -> None:
    assert build_problem(RpicamBuild.parse(LITE), model) == ""


def test_too_old_comes_first_and_an_unknown_build_is_not_refused() -> None:
    old = RpicamBuild((1, 7, 0), "rpicam-apps build: v1.7.0", False)
    assert build_problem(old, PI5).startswith("rpicam-vid 1.7.0 is too old: ")
    assert build_problem(RpicamBuild((1, 8, 0), "", None), PI5) == ""
    assert build_problem(RpicamBuild(None, "", None), PI5) == ""


class _OldOutputContainer:
    """An OutputContainer of a PyAV before 14.0: no add_stream_from_template."""


def test_a_pyav_that_cannot_remux_is_named_with_the_version_it_needs(monkeypatch) -> None:
    assert remux_problem() == ""
    monkeypatch.setattr(rpicam, "OutputContainer", _OldOutputContainer)
    assert "add_stream_from_template needs PyAV 14.0 or later" in remux_problem()


def _check(tmp_path: Path, monkeypatch, **knobs: str) -> list[str]:
    env = isolated_env(tmp_path / "sht", recorder__engine="rpicam-vid", recorder__rpicam_vid=str(FAKE))
    for name, value in knobs.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("doctor.system.board_model", lambda: PI5)
    out: list[str] = []
    check_rpicam(load(env), Report(out=out.append))
    return out


def test_the_self_check_names_a_missing_encoder_and_an_old_pyav(tmp_path: Path, monkeypatch) -> None:
    assert _check(tmp_path / "ok", monkeypatch) == [
        "rpicam-vid: rpicam-apps build: v1.9.1 0123456789ab 03-09-2025 (10:00:00); libav encoder present"]
    assert _check(tmp_path / "lite", monkeypatch, FAKE_RPICAM_LIBAV="0") == [f"rpicam-vid: PROBLEM: {NO_LIBAV}"]
    monkeypatch.setattr(rpicam, "OutputContainer", _OldOutputContainer)
    [line] = _check(tmp_path / "pyav", monkeypatch, FAKE_RPICAM_LIBAV="1")
    assert line.startswith("rpicam-vid: PROBLEM: PyAV ") and "needs PyAV 14.0 or later" in line
