"""The README's Raspberry Pi install, resolved by pip as on each release's Pi: what it keeps of
the OS's packages, what it installs into the venv, and that the result passes every floor.

On a Pi the venv is made with ``--system-site-packages`` so that it sees the OS's picamera2, and
with it the OS's numpy, simplejpeg and PyAV (``tests/data/pi-*-system.txt``, each figure with
its source).  pip keeps an installed package that satisfies every requirement and installs a
wheel into the venv over one that does not.  The proof is a resolver dry run of the README's
command for an aarch64 Pi (that release's Python and glibc) in a venv in which those OS
packages are installed (metadata only, on ``PYTHONPATH`` as the OS's dist-packages would be).
numpy must stay the OS's (picamera2's compiled helpers are built against it); every
requirement must end up at or above its floor.

Needs PyPI (the resolver reads the index; nothing is downloaded for installing).  With
``SHT_OFFLINE=1`` these tests are skipped, saying so; otherwise a network failure fails them.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from tests.support.floors import floors
from tests.support.procs import REPO

RELEASES = {  # release: (the OS's packages, Python, newest glibc)
    "bookworm": ("pi-bookworm-system.txt", "3.11", 36),
    "trixie": ("pi-trixie-system.txt", "3.13", 41),
}
# Where each of the OS's packages comes from after the README's pip command: kept ("OS") or a
# wheel installed into the venv ("pip"); the README's Raspberry Pi section says the same.
EXPECTED = {
    "bookworm": {"numpy": "OS", "simplejpeg": "pip", "av": "pip"},
    "trixie": {"numpy": "OS", "simplejpeg": "OS", "av": "pip"},
}
README_PIP = ".venv/bin/pip install -r requirements.txt"

if os.environ.get("SHT_OFFLINE") == "1":
    pytest.skip("SHT_OFFLINE=1: pip's resolver needs PyPI", allow_module_level=True)


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_name(name)] = version
    return pins


def _clean_env(**extra: str) -> dict[str, str]:
    # This machine's pip configuration (local wheel folders, its own constraints) is left out.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON")) or k == "PIP_CERT"}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


@pytest.fixture(scope="module")
def pi_pip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of its own with a current pip (one that resolves for another platform in a dry
    run without ``--target``, which would ignore what is installed)."""
    venv = tmp_path_factory.mktemp("pi-pip") / "venv"
    done = subprocess.run([sys.executable, "-m", "venv", "--upgrade-deps", str(venv)], capture_output=True,
                          text=True, timeout=300, env=_clean_env())
    if "NewConnectionError" in done.stderr or "Max retries exceeded" in done.stderr:
        pytest.fail(f"PyPI is not reachable; the resolver needs it (SHT_OFFLINE=1 skips): {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr[-1500:]
    return venv / "bin" / "python"


def os_packages(release: str, where: Path) -> dict[str, str]:
    """That release's packages as installed distributions (metadata only) under ``where``."""
    pins = _pins(REPO / "tests" / "data" / RELEASES[release][0])
    for name, version in pins.items():
        info = where / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("debian\n")
        (info / "RECORD").write_text("")
    return pins


def resolve(python: Path, release: str, requirements: Path, tmp: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """``pip install --dry-run --report`` of the README's Pi command, as on that release's Pi."""
    _, version, glibc = RELEASES[release]
    system = tmp / f"{release}-dist-packages"
    os_packages(release, system)
    platforms = [f"manylinux_2_{m}_aarch64" for m in range(17, glibc + 1)] + ["manylinux2014_aarch64"]
    report = tmp / f"{release}.json"
    cmd = [str(python), "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
           "--only-binary=:all:", "--python-version", version, "--implementation", "cp",
           "--abi", "cp" + version.replace(".", ""), *[a for p in platforms for a in ("--platform", p)],
           "-r", str(requirements)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_clean_env(PYTHONPATH=str(system)))
    if "NewConnectionError" in done.stderr or "Max retries exceeded" in done.stderr:
        pytest.fail(f"PyPI is not reachable; the resolver needs it (SHT_OFFLINE=1 skips): {done.stderr[-300:]}")
    return done, (json.loads(report.read_text()) if report.exists() else {})


def installed(report: dict) -> dict[str, dict]:
    """Name -> report entry of every package pip would install into the venv."""
    return {_name(i["metadata"]["name"]): i for i in report.get("install", [])}


def test_readme_pi_section_uses_the_resolved_command() -> None:
    pi = REPO.joinpath("README.md").read_text().split("## Raspberry Pi 5", 1)[1].split("\n## ", 1)[0]
    assert README_PIP in pi and "--system-site-packages" in pi


@pytest.mark.parametrize("release", sorted(RELEASES))
@pytest.mark.slow
def test_pi_install_keeps_the_os_numpy_and_passes_every_floor(release: str, pi_pip: Path, tmp_path: Path) -> None:
    done, report = resolve(pi_pip, release, REPO / "requirements.txt", tmp_path)
    assert done.returncode == 0, f"{release}: pip cannot install the requirements:\n{done.stderr[-1500:]}"
    system = _pins(REPO / "tests" / "data" / RELEASES[release][0])
    got = installed(report)
    origin = {name: "pip" if name in got else "OS" for name in system}
    assert origin == EXPECTED[release], f"{release}: pip keeps or replaces other packages than the README says"
    for name, floor in floors().items():
        name = _name(name)
        have = got[name]["metadata"]["version"] if name in got else system.get(name)
        assert have is not None, f"{release}: {name} would be missing"
        assert Version(have) >= Version(floor), f"{release}: {name} {have} is below its floor {floor}"
    for name, item in got.items():
        wheel = item["download_info"]["url"].rsplit("/", 1)[1]
        assert wheel.endswith("-none-any.whl") or "aarch64" in wheel, f"{release}: {name}: {wheel}"
    # A PyPI PyAV bundles its own FFmpeg (with libx264) and does not use numpy's C interface.
    assert "manylinux" in got["av"]["download_info"]["url"]


@pytest.mark.slow
def test_the_check_sees_a_numpy_split_and_a_kept_copy_below_the_code_s_needs(pi_pip: Path, tmp_path: Path) -> None:
    """The check sees the bugs it guards against: a numpy floor above the OS's installs a second
    numpy into the venv; the old floors (simplejpeg 1.6, PyAV 14) kept copies the code cannot use."""
    text = (REPO / "requirements.txt").read_text()
    split = tmp_path / "split.txt"
    split.write_text(re.sub(r"^numpy.*$", "numpy>=1.26,<3", text, flags=re.M))
    done, report = resolve(pi_pip, "bookworm", split, tmp_path / "split")
    assert done.returncode == 0 and "numpy" in installed(report)
    old = tmp_path / "old.txt"
    old.write_text(re.sub(r"^av>=.*$", "av>=14,<19", re.sub(r"^simplejpeg>=.*$", "simplejpeg>=1.6,<2", text,
                                                               flags=re.M), flags=re.M))
    for release, kept in (("bookworm", "simplejpeg"), ("trixie", "av")):
        done, report = resolve(pi_pip, release, old, tmp_path / f"old-{release}")
        assert done.returncode == 0 and kept not in installed(report), f"{release}: {kept} was replaced"
