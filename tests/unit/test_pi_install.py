"""The README's Raspberry Pi install keeps the OS's numpy and simplejpeg: no ABI split.

On a Pi, picamera2 comes from apt with a simplejpeg compiled against the OS's numpy; the
venv (``--system-site-packages``) must not get a numpy of its own, or ``import picamera2``
fails with "numpy.dtype size changed".  pip keeps an installed package that satisfies every
requirement, so the proof is a resolver dry run for the Pi (aarch64, the release's Python)
with the OS's versions pinned (``tests/data/pi-*-system.txt``): it must succeed, and every
resolved package built against numpy's C API must be one of the OS's.

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

from tests.support.procs import REPO

RELEASES = {  # release: (system versions file, Python, newest glibc)
    "bookworm": ("pi-bookworm-system.txt", "3.11", 36),
    "trixie": ("pi-trixie-system.txt", "3.13", 41),
}
README_PIP = ".venv/bin/pip install -r requirements.txt"

if os.environ.get("SHT_OFFLINE") == "1":
    pytest.skip("SHT_OFFLINE=1: pip's resolver needs PyPI", allow_module_level=True)


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def resolve(release: str, requirements: Path, tmp: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """``pip install --dry-run --report`` of the README's Pi command, as on that release's Pi."""
    system, python, glibc = RELEASES[release]
    platforms = [f"manylinux_2_{m}_aarch64" for m in range(17, glibc + 1)] + ["manylinux2014_aarch64"]
    report = tmp / f"{release}.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
           "--target", str(tmp / "target"), "--report", str(report), "--only-binary=:all:",
           "--python-version", python, "--implementation", "cp", "--abi", "cp" + python.replace(".", ""),
           *[a for p in platforms for a in ("--platform", p)],
           "-r", str(requirements), "-c", str(REPO / "tests" / "data" / system)]
    # This machine's pip configuration (local wheel folders, its own constraints) is left out.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if "NewConnectionError" in done.stderr or "Max retries exceeded" in done.stderr:
        pytest.fail(f"PyPI is not reachable; the resolver needs it (SHT_OFFLINE=1 skips): {done.stderr[-300:]}")
    return done, (json.loads(report.read_text()) if report.exists() else {})


def _needs_numpy_abi(item: dict) -> bool:
    """A compiled package that declares numpy as a plain (not extra) requirement."""
    deps = item["metadata"].get("requires_dist") or []
    plain = [d for d in deps if re.match(r"numpy\b", d) and "extra ==" not in d]
    return bool(plain) and not item["download_info"]["url"].endswith("-none-any.whl")


def test_readme_pi_section_uses_the_resolved_command() -> None:
    pi = REPO.joinpath("README.md").read_text().split("## Raspberry Pi 5", 1)[1].split("\n## ", 1)[0]
    assert README_PIP in pi and "--system-site-packages" in pi


@pytest.mark.parametrize("release", sorted(RELEASES))
@pytest.mark.slow
def test_pi_install_keeps_the_os_numpy_and_simplejpeg(release: str, tmp_path: Path) -> None:
    done, report = resolve(release, REPO / "requirements.txt", tmp_path)
    assert done.returncode == 0, f"{release}: pip would replace the OS's packages in the venv:\n{done.stderr[-1500:]}"
    pins = _pins(REPO / "tests" / "data" / RELEASES[release][0])
    got = {i["metadata"]["name"].lower(): i for i in report["install"]}
    for name, version in pins.items():
        assert got[name]["metadata"]["version"] == version, f"{release}: {name} would not be the OS's"
    compiled = sorted(n for n, i in got.items() if _needs_numpy_abi(i))
    assert compiled and set(compiled) <= set(pins), f"{release}: built against a numpy of their own: {compiled}"
    av = got["av"]
    assert not _needs_numpy_abi(av) and "manylinux" in av["download_info"]["url"]  # bundles its own FFmpeg


@pytest.mark.slow
def test_the_old_requirement_would_have_split_numpy(tmp_path: Path) -> None:
    """The check sees the bug it guards against: numpy>=1.26 cannot keep Bookworm's numpy."""
    old = tmp_path / "requirements-old.txt"
    old.write_text(re.sub(r"^numpy.*$", "numpy>=1.26,<3", (REPO / "requirements.txt").read_text(), flags=re.M))
    done, _ = resolve("bookworm", old, tmp_path)
    assert done.returncode != 0 and "ResolutionImpossible" in done.stderr
