"""The recordings view's export control in a real headless Chromium: a range downloads as one
MP4 named after the camera and the range; a range with nothing recorded says so on the page."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import av
import pytest

from tests.support.browser import Browser, System, open_page, require_chromium, save_screenshot
from tests.support.mp4_files import write_segment

require_chromium()

T0 = datetime(2026, 12, 4, 14, 2, 0)
FPS = 10


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with System(tmp_path_factory.mktemp("browser-export")) as sysm:
        for k in range(4):
            write_segment(sysm.root, 0, T0 + timedelta(seconds=30 * k), 30.0, fps=FPS)
        yield sysm.start(cameras=(0, 1), recorders=())


def _fill(page, start: str, end: str) -> None:
    page.click("#tab-recordings")
    page.fill("#export-from", start)
    page.fill("#export-to", end)
    page.select_option("#export-camera", "0")


def test_the_export_control_downloads_one_mp4_of_the_range(system: System, browser: Browser,
                                                           tmp_path: Path) -> None:
    page, log = open_page(browser, system.url())
    _fill(page, "2026-12-04T14:02:10", "2026-12-04T14:03:40")
    with page.expect_download(timeout=60000) as info:
        page.click("#export-go")
    download = info.value
    assert download.suggested_filename == "cam0_20261204_140210-140340.mp4"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with av.open(str(saved)) as container:
        frames = sum(1 for _ in container.decode(container.streams.video[0]))
        assert abs(container.duration / 1e6 - 90.0) <= 1.0
    assert frames == 90 * FPS
    assert "cam0_20261204_140210-140340.mp4" in page.text_content("#export-info")
    save_screenshot(page, "recordings_export")
    assert not log.page_errors, log.page_errors


def test_a_range_with_nothing_recorded_is_explained_on_the_page(system: System, browser: Browser) -> None:
    page, log = open_page(browser, system.url())
    _fill(page, "2026-12-04T15:00:00", "2026-12-04T15:10:00")
    page.click("#export-go")
    page.wait_for_function("() => document.getElementById('export-info').textContent.includes('nothing recorded')",
                           timeout=15000)
    assert not log.page_errors, log.page_errors


def test_the_recordings_tab_pressed_while_the_page_starts_opens(system: System, browser: Browser) -> None:
    # A fresh browser asks the server for its default view before wiring the page (up to 1.5 s);
    # a press on a tab meanwhile must not be lost. The question is held unanswered here.
    page, log = browser.page(1400, 1000)
    page.route("**/api/status", lambda route: None)
    page.goto(system.url())
    page.click("#tab-recordings")
    page.unroute("**/api/status")
    page.wait_for_selector("#export-from", state="visible", timeout=10000)
    assert page.evaluate("location.hash") == "#recordings"
    assert not log.page_errors, log.page_errors
