"""Every requirement declares its floor once, in the requirements files, and the floors cover
what the code calls.  That the code works at the floors is .ci/run's floors step: a venv with
exactly these versions running the unit tests."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from recorder.rpicam import REMUX_PYAV
from tests.support.floors import NoFloor, floors
from tests.support.procs import REPO

SCRIPT = REPO / "tests" / "support" / "floors.py"
# (package, what the code calls, the first release that has it: its source)
CALLED = [
    # live view and motion thumbnails; absent from simplejpeg 1.7.6's wheel, in 1.8.0's
    ("simplejpeg", "encode_jpeg_yuv_planes", "1.8.0"),
    # the rpicam-vid remux and the segment writer; absent from PyAV 13.1.0's wheel, in 14.0.0's
    ("av", "container.OutputContainer.add_stream_from_template", REMUX_PYAV),
]


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-test.txt"])
def test_every_requirement_has_a_floor_and_the_script_pins_them(name: str) -> None:
    path = REPO / name
    pins = floors(path)
    named = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    assert len(pins) == len([line for line in named if line])
    done = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.split() == [f"{n}=={v}" for n, v in pins.items()]


def test_floors_read_lower_bounds_and_a_requirement_without_one_is_refused(tmp_path: Path) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# a comment\nNumpy>=1.24,<3  # why\nuvicorn==0.54.*\nx~=2.1\nz<3,>=1.2\nmoto[server]>=5.2.5,<6\n")
    assert floors(reqs) == {"numpy": "1.24", "uvicorn": "0.54", "x": "2.1", "z": "1.2", "moto": "5.2.5"}
    reqs.write_text("numpy>=1.24\nfastapi<1\n")
    with pytest.raises(NoFloor, match="fastapi has no lower bound"):
        floors(reqs)
    done = subprocess.run([sys.executable, str(SCRIPT), str(reqs)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "fastapi has no lower bound" in done.stderr and not done.stdout


@pytest.mark.parametrize(("package", "called", "first"), CALLED)
def test_the_floors_cover_what_the_code_calls(package: str, called: str, first: str) -> None:
    assert Version(floors()[package]) >= Version(first), f"{package} {called} first appears in {first}"
    found = importlib.import_module(package)
    for part in called.split("."):   # and this environment's copy has it
        found = getattr(found, part)
