"""Fixtures shared by every test, and the test tree's one rule about speed.

``tests/unit/`` starts no program of the system (no capture, recorder, streamer, motion,
supervisord, nor a browser): it may run a helper such as ffprobe or a child process of its
own.  ``tests/system/`` starts them.  Every system test counts as ``slow``; a unit test that
runs for about a second or more is marked ``slow`` where it is defined.  So
``pytest -m "not slow"`` is the quick everyday run and ``pytest`` runs everything.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import Browser, chromium
from tests.support.procs import Procs, RingWriters, isolated_env, remove_all_rings, remove_rings, unique_prefix

SYSTEM_DIR = Path(__file__).resolve().parent / "system"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SYSTEM_DIR in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_in_memory() -> Iterator[None]:
    """Status documents that code run inside a test published to /dev/shm go at the end."""
    yield
    remove_all_rings()


@pytest.fixture
def sht_env(tmp_path: Path) -> dict[str, str]:
    """An isolated configuration (ring prefix, port, folders) for one test system."""
    return isolated_env(tmp_path / "sht")


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
