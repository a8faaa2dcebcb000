"""The page in a real headless Chromium, against real capture, streamer and recorder processes.

One test system (two synthetic cameras, the streamer, a recorder writing 2 s segments) is
shared by the tests of this module.  Screenshots of the dual, single, limit and recordings
views are saved in ``tests/artifacts/`` (or ``$SHT_TEST_ARTIFACTS``).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.browser import (
    Browser,
    PageLog,
    System,
    assert_moving,
    open_page,
    pause_recording,
    picture,
    require_chromium,
    save_screenshot,
    show_day,
    viewers,
    wait_playing,
)
from tests.support.mp4_files import write_segment
from tests.support.procs import status_board, wait_until

require_chromium()

SIZES = {("dual", "480p"): (1280, 480), ("dual", "720p"): (2560, 720),
         ("0", "480p"): (640, 480), ("1", "480p"): (640, 480),
         ("0", "720p"): (1280, 720), ("1", "720p"): (1280, 720)}

# Clicks a button and waits, in the page, for the image to show the wanted view: the
# elapsed time is measured between the click and the first frame of the new stream.
SWITCH_JS = """async ([selector, shown, w, h]) => {
  const img = document.getElementById('live-img');
  const stage = document.getElementById('stage');
  const t0 = performance.now();
  document.querySelector(selector).click();
  while (performance.now() - t0 < 8000) {
    if (img.dataset.shown === shown && img.naturalWidth === w && img.naturalHeight === h
        && stage.dataset.state === 'playing') return performance.now() - t0;
    await new Promise(r => setTimeout(r, 5));
  }
  return -1;
}"""


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with System(tmp_path_factory.mktemp("browser")) as sysm:
        yield sysm.start(cameras=(0, 1), recorders=(0,))


def test_page_loads_dual_480p_live_without_console_errors(system: System, browser: Browser) -> None:
    page, log = browser.page()
    requested: list[str] = []
    heads: list[float] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("request", lambda r: heads.append(time.monotonic()) if r.method == "HEAD" else None)
    page.goto(system.url())
    wait_playing(page)
    page.wait_for_function("() => document.getElementById('heartbeat').dataset.state === 'LIVE'", timeout=10000)
    size = page.evaluate("(img => [img.naturalWidth, img.naturalHeight])(document.getElementById('live-img'))")
    assert size == [1280, 480]
    assert "/stream?view=dual&res=480p" in page.get_attribute("#live-img", "src")
    pic = picture(page)
    assert pic is not None and pic["std"] > 8 and 20 < pic["mean"] < 235, pic  # a scene, not a blank
    assert_moving(page)
    # Statistics filled from /api/status, viewers counted at this resolution.
    page.wait_for_function("() => document.getElementById('st-fps').textContent.includes('fps')"
                           " && document.getElementById('st-viewers').textContent.startsWith('1 / 2')", timeout=10000)
    assert page.text_content("#st-size").endswith("kB")
    # Statistics refresh every 1-2 s; the heartbeat asks every 2 s.
    frames = page.text_content("#st-frames")
    page.wait_for_function(f"() => document.getElementById('st-frames').textContent !== {frames!r}", timeout=2500)
    heads.clear()
    page.wait_for_timeout(6500)
    assert 3 <= len(heads) <= 4, heads
    page.wait_for_function("() => document.querySelector('#rec-cards [data-camera=\"0\"] [data-rec]')"
                           "?.dataset.rec === 'recording'", timeout=15000)
    assert "free" in page.text_content("#disk")
    save_screenshot(page, "dual_480p")
    assert log.console_errors == [] and log.page_errors == [], log
    # Everything comes from the streamer itself: nothing from the internet.
    assert requested and all(u.startswith(system.url(path="/")) for u in requested), requested
    assert {"/static/app.js", "/static/style.css"} <= {httpx.URL(u).path for u in requested}
    page.context.close()


def test_each_button_switches_within_one_second_and_reload_keeps_the_choice(system: System,
                                                                            browser: Browser) -> None:
    page, log = open_page(browser, system.url())
    wait_playing(page)
    steps = [("#btn-720p", "dual", "720p"), ("#btn-cam0", "0", "720p"), ("#btn-cam1", "1", "720p"),
             ("#btn-480p", "1", "480p"), ("#btn-cam0", "0", "480p"), ("#btn-dual", "dual", "480p"),
             ("#btn-cam1", "1", "480p")]
    timings = {}
    for selector, view, res in steps:
        w, h = SIZES[(view, res)]
        elapsed = page.evaluate(SWITCH_JS, [selector, f"{view}/{res}", w, h])
        assert elapsed >= 0, f"{selector} never showed {view}/{res}"
        timings[f"{view}/{res}"] = round(elapsed)
        assert elapsed < 1000, f"{selector}: {view}/{res} took {elapsed:.0f} ms"
        assert page.get_attribute(selector, "aria-pressed") == "true"
    print("switch times (ms):", timings)
    # One stream connection per browser: the old one closed at each switch.
    wait_until(lambda: [(v["view"], v["res"]) for v in viewers(system)] == [("1", "480p")], 10, interval=0.2)
    save_screenshot(page, "single_cam1_480p")
    assert "view=1" in page.url and "res=480p" in page.url
    page.reload()
    wait_playing(page)
    assert page.get_attribute("#live-img", "data-shown") == "1/480p"
    # Local storage alone (no query in the address) restores it as well.
    page.goto(system.url())
    wait_playing(page)
    assert page.get_attribute("#live-img", "data-shown") == "1/480p"
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_heartbeat_shows_each_state_from_the_head_answer(system: System, browser: Browser) -> None:
    page, log = open_page(browser, system.url("127.0.0.1", "/?view=0&res=480p"))
    wait_playing(page)
    page.wait_for_function("() => document.getElementById('heartbeat').dataset.state === 'LIVE'", timeout=10000)
    answer: dict[str, Any] = {}

    def on_head(route: Any) -> None:
        if route.request.method != "HEAD" or not answer:
            route.continue_()
        elif answer.get("abort"):
            route.abort("connectionrefused")
        else:
            route.fulfill(status=answer["status"], headers=answer.get("headers", {}), body="")

    page.route(lambda url: "/stream?" in url, on_head)
    for wanted, given in [("DELAY", {"status": 200, "headers": {"X-Frame-Age-Ms": "1500.0"}}),
                          ("ERROR", {"status": 503, "headers": {"X-Frame-Age-Ms": ""}}),
                          ("OFFLINE", {"abort": True}),
                          ("LIVE", {"status": 200, "headers": {"X-Frame-Age-Ms": "20.5"}})]:
        answer.clear()
        answer.update(given)
        page.wait_for_function(f"() => document.getElementById('heartbeat').dataset.state === '{wanted}'", timeout=8000)
    page.unroute(lambda url: "/stream?" in url)
    assert log.page_errors == [], log
    page.context.close()


def test_limit_message_for_a_third_address_then_it_gets_in_by_itself(system: System, browser: Browser) -> None:
    first, _ = open_page(browser, system.url("127.0.0.1", "/?view=dual&res=720p"))
    second, _ = open_page(browser, system.url("127.0.0.2", "/?view=0&res=720p"))
    wait_playing(first)
    wait_playing(second)
    third, log = open_page(browser, system.url("127.0.0.3", "/?view=dual&res=720p"))
    third.wait_for_function("() => document.getElementById('stage').dataset.state === 'blocked'", timeout=15000)
    title = third.text_content("#stage-title")
    detail = third.text_content("#stage-detail")
    assert "Viewer limit reached at 720p" in title
    assert "2 of 2 viewers" in detail and "retries by itself" in detail
    assert third.is_visible("#btn-other-res") and third.text_content("#btn-other-res") == "Switch to 480p"
    # Never a broken image: the failed picture is not shown, the message is.
    assert third.evaluate("getComputedStyle(document.getElementById('live-img')).visibility") == "hidden"
    assert third.is_visible("#stage-msg")
    # The hidden picture keeps its place: two 720p pictures wide, sizes as the server declares them.
    third.wait_for_function("() => document.getElementById('stage').style.aspectRatio === '2560 / 720'", timeout=5000)
    save_screenshot(third, "limit_720p")
    # A slot frees: the blocked page connects without anyone touching it.
    second.context.close()
    wait_playing(third, 20)
    assert third.get_attribute("#live-img", "data-shown") == "dual/720p"
    assert not third.is_visible("#stage-msg")
    # The browser logs each refused request; nothing else may go wrong.
    assert all("status of 423" in e for e in log.console_errors), log.console_errors
    assert log.page_errors == [], log
    # The offered other resolution works from the blocked state too.  This page is told other
    # picture sizes: the hidden picture's place follows what the server says, not the page's guess.
    fourth, log4 = browser.page(1400, 1000)
    sizes = {"480p": {"width": 640, "height": 480}, "720p": {"width": 1000, "height": 500}}
    fourth.route("**/api/config", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body=json.dumps({"views": ["dual", "0", "1"], "cameras": ["0", "1"], "resolutions": sizes})))
    fourth.goto(system.url("127.0.0.4", "/?view=1&res=720p"))
    fourth.wait_for_function("() => document.getElementById('stage').dataset.state === 'blocked'", timeout=15000)
    fourth.wait_for_function("() => document.getElementById('stage').style.aspectRatio === '1000 / 500'", timeout=5000)
    fourth.click("#btn-other-res")
    wait_playing(fourth)
    assert fourth.get_attribute("#live-img", "data-shown") == "1/480p"
    assert log4.page_errors == [], log4
    for page in (first, third, fourth):
        page.context.close()


def test_recorded_segment_plays_in_the_page(system: System, browser: Browser) -> None:
    wait_until(lambda: len(list(system.root.glob("cam0/*/cam0_*.mp4"))) >= 2, 40, interval=0.5)
    page, log = open_page(browser, system.url(path="/#recordings"))
    page.wait_for_selector("#segments tbody button[data-play]", timeout=15000)
    assert page.is_hidden("#live")
    assert page.get_attribute("#live-img", "src") is None  # no stream held while browsing recordings
    wait_until(lambda: viewers(system) == [], 10, interval=0.2)
    assert page.locator("#tl-track .tl-run").count() >= 1
    # Play a whole 2 s segment (the first one of a recording may be shorter).
    row = page.locator("#segments tbody tr", has=page.locator("td", has_text="2.0 s")).first
    file = row.get_attribute("data-file")
    row.locator("button[data-play]").click()
    page.wait_for_function("() => (() => { const v = document.getElementById('player');"
                           " return v.currentTime > 0.3 && !v.paused && v.readyState >= 2; })()", timeout=15000)
    src, t1 = page.evaluate("[document.getElementById('player').src, document.getElementById('player').currentTime]")
    assert src.endswith(f"/recordings/cam0/{file[7:13]}/{file}")
    page.wait_for_timeout(300)
    src2, t2 = page.evaluate("[document.getElementById('player').src, document.getElementById('player').currentTime]")
    assert t2 > t1 or src2 != src  # still playing, or went on to the next segment
    assert page.get_attribute("#player", "src").startswith("/recordings/cam0/")
    assert page.is_visible("#tl-cursor")
    href = page.get_attribute("#segments tbody a[download]", "href")
    assert href.endswith(".mp4?download=1")
    page.evaluate("document.getElementById('player').pause()")
    save_screenshot(page, "recordings")
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_timeline_shows_runs_and_gaps_and_a_click_plays_that_time(system: System, browser: Browser) -> None:
    # Camera 1 has no recorder here: give it one past day with a 26 s hole.
    day = datetime(2026, 11, 20, 8, 0, 0)
    for second, length in ((0, 2.0), (2, 2.0), (30, 2.0)):
        write_segment(system.root, 1, day.replace(second=second), length, width=640, height=360)
    page, log = open_page(browser, system.url(path="/#recordings"))
    show_day(page, 1, "261120", 3)
    assert page.locator("#tl-track .tl-run").count() == 2  # 08:00:00-08:00:04 and 08:00:30-08:00:32
    assert page.locator("#tl-track .tl-gap").count() == 1
    summary = page.text_content("#day-summary")
    assert "2026-11-20" in summary and "3 segments" in summary and "1 gap" in summary
    starts = page.locator("#segments tbody tr td:first-child").all_text_contents()
    assert starts == ["08:00:30", "08:00:02", "08:00:00"]  # newest first
    # The day bar (about a minute per pixel) picks the hour and plays what is recorded there...
    box = page.locator("#timeline").bounding_box()
    page.mouse.click(box["x"] + box["width"] * (8 * 3600 + 15) / 86400, box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.getElementById('player').currentTime > 0.3", timeout=15000)
    assert page.text_content("#hour-label") == "08:00 – 09:00"
    assert "/recordings/cam1/261120/cam1_20261120_0800" in page.get_attribute("#player", "src")
    assert page.locator("#hour-track .tl-seg").count() == 3 and page.locator("#hour-track .tl-gap").count() == 1
    # ...and the hour bar (seconds per pixel) picks one segment.
    box = page.locator("#hourline").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 31 / 3600, box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.getElementById('player').src.endsWith('cam1_20261120_080030.mp4')"
                           " && document.getElementById('player').currentTime > 0.3", timeout=15000)
    assert page.get_attribute("#segments tbody tr.playing", "data-file") == "cam1_20261120_080030.mp4"
    page.evaluate("document.getElementById('player').pause()")
    save_screenshot(page, "recordings_timeline")
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_recording_pause_and_resume_from_the_page(system: System, browser: Browser) -> None:
    page, log = open_page(browser, system.url())
    badge = "document.querySelector('#rec-cards [data-camera=\"0\"] [data-rec]')?.dataset.rec"
    page.wait_for_function(f"() => {badge} === 'recording'", timeout=15000)
    pause_recording(page, 0)
    page.wait_for_function(f"() => {badge} === 'paused'", timeout=15000)
    assert page.text_content("#rec-cards [data-camera='0'] [data-rec-toggle]") == "Resume recording"
    page.click("#rec-cards [data-camera='0'] [data-rec-toggle]")
    page.wait_for_function(f"() => {badge} === 'recording'", timeout=15000)
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_disk_banner_warns_under_1_gb_and_names_what_retention_deleted(system: System, browser: Browser) -> None:
    # Camera 1 has no recorder in this system: publish its status document as a recorder would.
    board = status_board(system.env)
    doc = {"camera": 1, "state": "error", "recording": False, "current_file": "",
           "segments_written": 12, "frames_dropped": 0, "last_error": "disk full: segment closed early",
           "disk_free_bytes": 600_000_000, "disk_warning": True, "retention_deleted_count": 3,
           "retention_deleted": [{"file": "cam1/261119/cam1_20261119_000000.mp4", "bytes": 4_000_000,
                                  "at": 1_795_000_000.0}]}
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            board.publish("recorder-cam1", doc)
            stop.wait(0.5)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        page, log = open_page(browser, system.url())
        page.wait_for_function("() => document.getElementById('disk').dataset.level === 'warning'", timeout=10000)
        text = page.text_content("#disk")
        assert "Low disk space: 600 MB free (under 1 GB)" in text
        assert "Retention deleted 3 files" in text and "cam1/261119/cam1_20261119_000000.mp4" in text
        card = "#rec-cards [data-camera='1']"
        page.wait_for_function(f"() => document.querySelector(\"{card} [data-rec]\")?.dataset.rec === 'error'",
                               timeout=10000)
        assert "Last error: disk full: segment closed early" in page.text_content(card)
        save_screenshot(page, "disk_warning")
    finally:
        stop.set()
        publisher.join(5)
    # A recorder that stops reporting is shown as not running, not as still recording.
    page.wait_for_function(f"() => document.querySelector(\"{card} [data-rec]\")?.dataset.rec === 'off'", timeout=15000)
    page.wait_for_function("() => document.getElementById('disk').dataset.level === 'ok'", timeout=15000)
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_design_one_button_style_grey_background_blue_accent(system: System, browser: Browser) -> None:
    page, log = open_page(browser, system.url(path="/?view=dual&res=480p"))
    wait_playing(page)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(245, 245, 245)"
    assert page.evaluate("getComputedStyle(document.getElementById('btn-dual')).backgroundColor") == "rgb(0, 123, 255)"
    assert page.evaluate("getComputedStyle(document.getElementById('btn-cam0')).color") == "rgb(0, 123, 255)"
    # Every button is a .btn, and the buttons of the toolbars look the same but for being chosen.
    assert page.evaluate("document.querySelectorAll('button:not(.btn)').length") == 0
    looks = page.evaluate("""[...document.querySelectorAll('#live .toolbar .btn, .tabs .btn')].map(b => {
        const c = getComputedStyle(b);
        return [c.fontFamily, c.fontSize, c.fontWeight, c.borderRadius, c.borderTopColor, c.paddingTop, c.height];
    })""")
    assert len(looks) == 8 and all(look == looks[0] for look in looks), looks  # with Low data
    # Symmetrical: the toolbar and the live picture are centred on the page.
    width = page.evaluate("document.documentElement.clientWidth")
    for selector in ("#live .toolbar", "#stage"):
        box = page.locator(selector).bounding_box()
        assert abs((box["x"] + box["width"] / 2) - width / 2) <= 2, selector
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_phone_layout_stacks_the_panels(system: System, browser: Browser) -> None:
    page, log = browser.page(390, 844)
    # The MJPEG picture chosen (a phone's default is the low-data view: test_browser_phone.py).
    page.add_init_script("localStorage.setItem('sht.lowdata', '0')")
    page.goto(system.url(path="/?view=dual&res=480p"))
    wait_playing(page)
    boxes = [page.locator(sel).bounding_box() for sel in ("#stats-h", "#rec-h")]
    assert boxes[1]["y"] > boxes[0]["y"] + 50  # one column on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # nothing wider than the screen
    save_screenshot(page, "phone_dual_480p")
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def marked_live_page(system: System, browser: Browser) -> tuple[Any, PageLog]:
    """The dual 480p page playing with a LIVE heartbeat, its document marked: a reload would drop the mark."""
    page, log = open_page(browser, system.url(path="/?view=dual&res=480p"))
    wait_playing(page)
    page.wait_for_function("() => document.getElementById('heartbeat').dataset.state === 'LIVE'", timeout=10000)
    page.evaluate("window.__sameDocument = true")
    return page, log


def test_heartbeat_error_while_the_cameras_are_down_and_back_when_they_return(system: System,
                                                                             browser: Browser) -> None:
    page, log = marked_live_page(system, browser)
    system.procs.kill("capture0")
    system.procs.kill("capture1")
    page.wait_for_function("() => document.getElementById('heartbeat').dataset.state === 'ERROR'", timeout=15000)
    page.wait_for_function("() => document.getElementById('stage').dataset.state === 'failed'", timeout=5000)
    assert page.is_visible("#stage-msg") and "unavailable" in page.text_content("#stage-title")
    system.procs.capture(0)
    system.procs.capture(1)
    page.wait_for_function("() => document.getElementById('heartbeat').dataset.state === 'LIVE'", timeout=30000)
    wait_playing(page)
    assert not page.is_visible("#stage-msg")
    assert page.evaluate("window.__sameDocument === true")
    assert_moving(page)
    assert log.page_errors == [], log
    page.context.close()


def test_heartbeat_offline_when_streamer_stops_and_picture_returns_without_reload(system: System,
                                                                                  browser: Browser) -> None:
    page, log = marked_live_page(system, browser)
    loads = int(page.get_attribute("#live-img", "data-loads"))
    system.procs.stop("streamer")
    page.wait_for_function("() => document.getElementById('heartbeat').dataset.state === 'OFFLINE'", timeout=10000)
    system.start_streamer()
    page.wait_for_function("() => document.getElementById('heartbeat').dataset.state === 'LIVE'", timeout=20000)
    page.wait_for_function(f"() => Number(document.getElementById('live-img').dataset.loads) > {loads}", timeout=10000)
    wait_playing(page)
    assert page.evaluate("window.__sameDocument === true")  # reconnected in place, not reloaded
    assert_moving(page)
    assert log.page_errors == [], log
    page.context.close()


def test_red_banner_names_a_camera_that_is_not_recording(system: System, browser: Browser) -> None:
    # Camera 1 has no recorder in this system: it should record, and nothing is finished.
    page, log = open_page(browser, system.url())
    page.wait_for_function("() => !document.getElementById('health').hidden", timeout=15000)
    text = page.text_content("#health")
    assert "Camera 1 is NOT recording" in text and "Camera 0" not in text, text
    assert page.eval_on_selector("#health", "e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
    save_screenshot(page, "not_recording_banner")
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()
