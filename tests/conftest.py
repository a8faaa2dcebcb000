"""Fixtures shared by every test, and the test tree's one rule about speed.

``tests/unit/`` starts no program of the system (no capture, recorder, streamer, motion,
supervisord, nor a browser): it may run a helper such as ffprobe or a child process of its
own.  ``tests/system/`` starts them.  Every system test counts as ``slow``; a unit test that
runs for about a second or more is marked ``slow`` where it is defined.  So
``pytest -m "not slow"`` is the quick everyday run and ``pytest`` runs everything.
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from common.process.logs import RepeatLimit
from tests.support.browser import Browser, chromium
from tests.support.fake_camera import FAKES
from tests.support.procs import (
    Procs,
    RingWriters,
    isolated_env,
    remove_all_rings,
    remove_dead_pending,
    remove_rings,
    unique_prefix,
)

if TYPE_CHECKING:
    from tests.support.recorder_rig import RecorderRig

SYSTEM_DIR = Path(__file__).resolve().parent / "system"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SYSTEM_DIR in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def no_repeat_limit_left() -> Iterator[None]:
    """The streamer's app limits repeated lines on every log handler of its process; in a
    test process those include pytest's own, which must see every line of later tests."""
    yield
    for name in ("", "uvicorn"):
        for handler in logging.getLogger(name).handlers:
            for f in [f for f in handler.filters if isinstance(f, RepeatLimit)]:
                handler.removeFilter(f)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ModuleType]:
    """The fake ``picamera2`` importable in this process, with its own camera locks."""
    monkeypatch.syspath_prepend(str(FAKES))
    monkeypatch.setenv("FAKE_PICAMERA2_LOCK_DIR", str(tmp_path / "locks"))
    for name in ("FAKE_PICAMERA2_CAMERAS", "FAKE_PICAMERA2_STALL_AFTER", "FAKE_PICAMERA2_STRIDE_ALIGN",
                 "FAKE_PICAMERA2_VERSION", "FAKE_PICAMERA2_CAMERAS_FILE", "FAKE_PICAMERA2_COLOUR_SPACE",
                 "FAKE_PICAMERA2_RGB", "FAKE_PICAMERA2_FRAME_US", "FAKE_PICAMERA2_PORTS", "FAKE_PICAMERA2_SENSORS"):
        monkeypatch.delenv(name, raising=False)
    for name in ("picamera2", "libcamera", "libcamera.controls"):
        sys.modules.pop(name, None)
    import picamera2
    assert Path(picamera2.__file__).parent.parent == FAKES
    yield picamera2
    for name in ("picamera2", "libcamera", "libcamera.controls"):
        sys.modules.pop(name, None)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_in_memory() -> Iterator[None]:
    """Status documents that code run inside a test published to /dev/shm go at the end, and
    the pending rows of the test recorders that are gone."""
    started = time.time()
    yield
    remove_all_rings()
    remove_dead_pending(started)


@pytest.fixture
def sht_env(tmp_path: Path) -> dict[str, str]:
    """An isolated configuration (ring prefix, port, folders) for one test system."""
    return isolated_env(tmp_path / "sht")


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time with summer time (the clocks go back on 2026-10-25 at 03:00 to 02:00)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def procs(sht_env: dict[str, str], tmp_path: Path) -> Iterator[Procs]:
    """Processes of one test system; all stopped and their rings removed afterwards."""
    p = Procs(sht_env, tmp_path / "proc-logs")
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def ring_prefix() -> Iterator[str]:
    """A ring-name prefix of this test only; segments left under it are removed afterwards."""
    prefix = unique_prefix()
    yield prefix
    remove_rings(prefix)


@pytest.fixture
def ring_writer() -> Iterator[RingWriters]:
    """Makes ring writers (``ring_writer(name, w, h)``, ``ring_writer.stream(prefix, cam)``)."""
    writers = RingWriters()
    try:
        yield writers
    finally:
        writers.close()


@pytest.fixture
def recorder_rig(tmp_path: Path) -> Iterator[Callable[..., RecorderRig]]:
    """Makes a recorder in a thread that the test feeds (``recorder_rig(recorder__segment_seconds=1)``)."""
    from tests.support.recorder_rig import RecorderRig  # the recorder's imports, only for tests that use it
    made: list[RecorderRig] = []

    def make(**overrides: object) -> RecorderRig:
        made.append(RecorderRig(tmp_path, **overrides))
        return made[-1]
    yield make
    for rig in made:
        rig.close()


@pytest.fixture(scope="module")
def module_chromium() -> Iterator[Browser]:
    """One headless Chromium for the tests of a module (modules that use it call ``require_chromium()``)."""
    with chromium() as b:
        yield b


@pytest.fixture
def browser(module_chromium: Browser) -> Iterator[Browser]:
    """The module's Chromium; the tabs a test opened are closed after it, even when it fails, so
    that their streams do not hold viewer slots for the next test."""
    yield module_chromium
    module_chromium.close_pages()
