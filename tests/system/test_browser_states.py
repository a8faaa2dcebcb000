"""Honest states in a real headless Chromium: starting, paused, a recorder that is off, a dead
camera in the dual view, a frozen picture and an unreachable server.

One system (both cameras, both recorders writing 60 s segments, so that the first test sees
the first segment being written even on a busy machine) is shared by the tests of this module, in this order.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.browser import Browser, System, pause_recording, require_chromium, save_screenshot, wait_playing
from tests.support.procs import wait_until

require_chromium()

BEAT = "document.getElementById('heartbeat').dataset.state"
BADGE = "document.querySelector('#rec-cards [data-camera=\"{cam}\"] [data-rec]')?.dataset.rec"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with System(tmp_path_factory.mktemp("states"), segment_seconds=60) as sysm:
        # Not cut at the clock's minute: the first segment is a whole minute long, whenever it starts.
        sysm.env["SHT__RECORDER__ALIGN_TO_CLOCK"] = "false"
        yield sysm.start(cameras=(0, 1), recorders=(0, 1))


def _live_page(system: System, browser: Browser, view: str = "dual") -> tuple[Any, Any]:
    page, log = browser.page()
    page.goto(system.url(path=f"/?view={view}&res=480p"))
    wait_playing(page)
    return page, log


def test_the_first_segment_being_written_is_starting_not_an_alarm(system: System, browser: Browser) -> None:
    page, log = _live_page(system, browser)
    page.wait_for_function("() => !document.getElementById('health').hidden", timeout=15000)
    banner = page.text_content("#health")
    assert page.get_attribute("#health", "data-level") == "starting", banner
    assert "NOT recording" not in banner and banner.count("starting") == 2, banner
    health = httpx.get(system.url(path="/api/health"), timeout=5).json()
    assert [c["starting"] for c in health["cameras"].values()] == [True, True], health
    save_screenshot(page, "state_starting")
    assert log.page_errors == [], log


def test_pause_asks_first_then_shows_a_banner_at_the_top(system: System, browser: Browser) -> None:
    page, log = _live_page(system, browser)
    page.wait_for_function(f"() => {BADGE.format(cam=0)} === 'recording'", timeout=15000)
    # Asked, and "keep recording" keeps it.
    page.click("#rec-cards [data-camera='0'] [data-rec-toggle]")
    page.wait_for_selector("#pause-dialog[open]", timeout=5000)
    assert "Camera 0" in page.text_content("#pause-q")
    page.click("#pause-cancel")
    page.wait_for_timeout(2000)
    assert httpx.get(system.url(path="/api/status"), timeout=5).json()["controls"]["recording"]["0"] is True
    assert page.is_hidden("#pause-banner")
    # Confirmed: paused at once on the page, never a REC badge in between.
    pause_recording(page, 0)
    seen = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4:
        seen.append(page.evaluate(f"() => {BADGE.format(cam=0)}"))
        page.wait_for_timeout(100)
    assert "recording" not in seen[seen.index("paused"):], seen
    banner = page.text_content("#pause-banner")
    assert page.is_visible("#pause-banner")
    assert re.search(r"Camera 0: Recording paused from this machine at \d\d:\d\d:\d\d", banner), banner
    top = page.evaluate("document.getElementById('pause-banner').getBoundingClientRect().top")
    assert top < 150, top   # at the top, not below the fold
    save_screenshot(page, "state_paused")
    page.click("#rec-cards [data-camera='0'] [data-rec-toggle]")   # resuming is not asked
    page.wait_for_selector("#pause-banner", state="hidden", timeout=10000)
    assert log.page_errors == [], log


def test_a_recorder_that_is_off_offers_no_pause(system: System, browser: Browser) -> None:
    page, log = _live_page(system, browser)
    page.wait_for_selector("#rec-cards [data-camera='1'] [data-rec-toggle]", timeout=15000)
    system.procs.stop("recorder1")
    try:
        page.wait_for_function(f"() => {BADGE.format(cam=1)} === 'off'", timeout=15000)
        assert page.query_selector("#rec-cards [data-camera='1'] [data-rec-toggle]") is None
        assert page.query_selector("#rec-cards [data-camera='0'] [data-rec-toggle]") is not None
    finally:
        system.procs.start("recorder1", "-m", "recorder", "--camera", "1")
    assert log.page_errors == [], log


def _stays_delay(page: Any, why: str, within_ms: int, looks: int) -> None:
    """The badge turns DELAY with ``why`` beside it within ``within_ms``, then is not LIVE at
    any of ``looks`` looks half a second apart."""
    page.wait_for_function(f"() => {BEAT} === 'DELAY'"
                           f" && document.getElementById('beat-why').textContent.includes('{why}')",
                           timeout=within_ms)
    beats = []
    for _ in range(looks):
        page.wait_for_timeout(500)
        beats.append(page.evaluate(f"() => {BEAT}"))
    assert "LIVE" not in beats, beats


def test_a_dead_camera_in_the_dual_view_is_not_live_and_is_named(system: System, browser: Browser) -> None:
    page, log = _live_page(system, browser)
    page.wait_for_function(f"() => {BEAT} === 'LIVE'", timeout=10000)
    system.procs.kill("capture1")
    try:
        _stays_delay(page, "Camera 1", 10000, 8)   # and never LIVE while camera 1 is down
        save_screenshot(page, "state_camera_down")
    finally:
        system.procs.capture(1)
    wait_until(lambda: httpx.head(system.url(path="/stream?view=1&res=480p"), timeout=2).status_code == 200, 20)
    page.wait_for_function(f"() => {BEAT} === 'LIVE' && !document.getElementById('beat-why').textContent",
                           timeout=15000)
    assert log.page_errors == [], log


def test_a_frozen_picture_is_delay_whatever_the_heartbeat_says(system: System, browser: Browser) -> None:
    """The stream's connection is stuck on one picture (as after a streamer restart) while the
    heartbeat answers quickly: within a few seconds the badge is no longer LIVE."""
    still = httpx.get(system.url(path="/snapshot?view=dual&res=480p"), timeout=5).content
    page, log = browser.page()

    def one_picture(route: Any) -> None:
        if route.request.method == "GET":
            route.fulfill(status=200, body=still, headers={"Content-Type": "image/jpeg", "Cache-Control": "no-store"})
        else:
            route.continue_()   # the heartbeat reaches the server, which says all is well
    page.route(re.compile(r"/stream\?"), one_picture)
    page.goto(system.url(path="/?view=dual&res=480p"))
    wait_playing(page)
    _stays_delay(page, "not changed", 8000, 10)
    # The real stream again: LIVE once pictures arrive.
    page.unroute(re.compile(r"/stream\?"))
    page.wait_for_function(f"() => {BEAT} === 'LIVE'", timeout=20000)
    assert log.page_errors == [], log


def test_no_picture_is_not_live_although_the_server_answers(system: System, browser: Browser) -> None:
    page, log = browser.page()

    def no_picture(route: Any) -> None:
        if route.request.method == "GET":
            route.abort("connectionreset")   # the stream never comes
        else:
            route.continue_()
    page.route(re.compile(r"/stream\?"), no_picture)
    page.goto(system.url(path="/?view=0&res=480p"))
    page.wait_for_timeout(3000)
    beats = []
    for _ in range(10):
        page.wait_for_timeout(500)
        beats.append(page.evaluate(f"() => {BEAT}"))
    assert beats.count("DELAY") == len(beats), beats
    assert page.text_content("#beat-why"), "the badge says why"
    page.unroute(re.compile(r"/stream\?"))
    page.wait_for_function(f"() => {BEAT} === 'LIVE'", timeout=20000)
    wait_playing(page)
    assert log.page_errors == [], log


def test_offline_greys_what_was_last_true_and_hides_rec_and_motion(system: System, browser: Browser) -> None:
    page, log = _live_page(system, browser)
    page.wait_for_function(f"() => {BADGE.format(cam=0)} === 'recording' && {BEAT} === 'LIVE'", timeout=15000)
    assert page.is_visible("#rec-cards [data-camera='0'] .rec-badge")
    system.procs.kill("streamer")
    try:
        page.wait_for_function(f"() => {BEAT} === 'OFFLINE'", timeout=15000)
        note = page.text_content("#stale-note")
        assert page.is_visible("#stale-note") and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", note), note
        assert not page.is_visible("#rec-cards [data-camera='0'] .rec-badge")
        assert page.evaluate("[...document.querySelectorAll('.motion-badge')].every(b => b.offsetParent === null)")
        opacity = page.evaluate("Number(getComputedStyle(document.getElementById('stats')).opacity)")
        assert opacity < 0.6, opacity
        save_screenshot(page, "state_offline")
    finally:
        system.start_streamer()
    page.wait_for_function(f"() => {BEAT} === 'LIVE'", timeout=20000)
    assert not page.is_visible("#stale-note")
    assert page.is_visible("#rec-cards [data-camera='0'] .rec-badge")
    assert log.page_errors == [], log
