"""Motion events in a real headless Chromium: markers on both timeline bars, a click plays
the right segment at the right offset, the events list, and the live MOTION badge.

The system: two synthetic cameras with the scripted scene (a figure crosses every 10 s),
the recorder of camera 0 (2 s segments), the motion process and the streamer.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import Browser, System, open_page, require_chromium, save_screenshot, wait_playing
from tests.support.procs import isolated_env, wait_until

require_chromium()


class MotionSystem(System):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.env.update(isolated_env(tmp / "sht2", recorder__segment_seconds=2, camera__synthetic_motion_every=10,
                                     motion__pre_seconds=1, motion__post_seconds=1))
        self.port = int(self.env["SHT__STREAMER__PORT"])
        self.root = Path(self.env["SHT__RECORDER__ROOT"])
        self.procs.env = self.env


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotionSystem]:
    with MotionSystem(tmp_path_factory.mktemp("browser-events")) as sysm:
        yield sysm.start(cameras=(0, 1), recorders=(0,), services=("motion",))


def segment_start(system: MotionSystem, play: dict[str, Any]) -> float:
    """When the segment to play begins: its first frame's time as the recordings list says,
    which its file name gives to the second."""
    day = play["file"][7:13]   # cam0_20YYMMDD_... -> YYMMDD
    doc = httpx.get(system.url(path=f"/api/recordings?camera=0&date={day}"), timeout=5).json()
    start = next(s["start_epoch"] for s in doc["segments"] if s["file"] == play["file"])
    named = datetime.strptime(play["file"][5:20], "%Y%m%d_%H%M%S").timestamp()
    assert named <= start < named + 1.0, (play["file"], start)
    return float(start)


def playable_event(system: MotionSystem) -> dict[str, Any] | None:
    """A closed event of camera 0 whose start (less the pre-roll) is in a finished segment.

    An event that began within its pre-roll of the recorder's first segment plays from that
    segment's start instead: not the case under test here."""
    doc = httpx.get(system.url(path="/api/events?camera=0"), timeout=5).json()
    for ev in doc["events"]:
        if (not ev["open"] and ev["play"] and ev["thumbnail"]
                and segment_start(system, ev["play"]) <= ev["start_wall"] - ev["pre_s"]):
            return ev
    return None


def test_marker_on_both_bars_and_a_click_plays_the_segment_at_the_offset(system: MotionSystem,
                                                                         browser: Browser) -> None:
    ev = wait_until(lambda: playable_event(system), 45, 0.5)
    play = ev["play"]
    # The API's answer, checked against the file name: the segment holds start - pre_seconds.
    seg_start = segment_start(system, play)
    target = ev["start_wall"] - ev["pre_s"]
    assert seg_start <= target < seg_start + 2.0 + 1.0 and abs(seg_start + play["offset_s"] - target) < 0.01

    page, log = open_page(browser, system.url(path="/#recordings"))
    page.click("#btn-rcam0")
    mark = f'#tl-marks .ev-mark[data-event="{ev["id"]}"]'
    page.wait_for_selector(mark, timeout=20000)
    hour_mark = f'#hour-marks .ev-mark[data-event="{ev["id"]}"]'
    page.wait_for_selector(hour_mark, timeout=10000)
    assert page.locator(f'#events-list .ev-card[data-event="{ev["id"]}"] img').count() == 1

    for selector in (mark, hour_mark):
        page.evaluate("() => { const v = document.getElementById('player'); "
                      "v.pause(); v.removeAttribute('src'); v.load(); }")
        page.locator(selector).click()
        page.wait_for_function(
            """([url, offset]) => { const v = document.getElementById('player');
                return v.src.endsWith(url) && v.readyState >= 1 && v.currentTime >= offset - 0.05; }""",
            arg=[play["url"], play["offset_s"]], timeout=15000)
        src, t = page.evaluate("[document.getElementById('player').src, document.getElementById('player').currentTime]")
        assert src.endswith(play["url"]), selector
        assert play["offset_s"] - 0.05 <= t <= play["offset_s"] + 1.5, (selector, t, play)
    page.evaluate("document.getElementById('player').pause()")
    save_screenshot(page, "recordings_events")
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def _ongoing_card(system: MotionSystem, page: Any) -> Any:
    """The list's card of an event going on now: refreshed while camera 0 has one open (a
    crossing lasts about 6 s of every 10, so one of a few tries lands inside one)."""
    from playwright.sync_api import TimeoutError as PageTimeout
    for _ in range(6):
        wait_until(lambda: httpx.get(system.url(path="/api/events/live"), timeout=5).json()["cameras"]["0"]["open"],
                   20, 0.1)
        page.click("#btn-refresh")
        try:
            # (the list holds both cameras' events: camera 0's, whose marks are on show)
            page.wait_for_selector('#events-list .ev-card.ongoing[data-camera="0"]', timeout=3000)
            return page.locator('#events-list .ev-card.ongoing[data-camera="0"]').first
        except PageTimeout:
            continue
    raise AssertionError("no event was ever listed as ongoing")


def test_an_event_going_on_is_listed_as_ongoing_with_its_picture(system: MotionSystem, browser: Browser) -> None:
    page, log = open_page(browser, system.url(path="/#recordings"))
    page.click("#btn-rcam0")
    card = _ongoing_card(system, page)
    eid = card.get_attribute("data-event")
    text = card.inner_text()
    assert "in progress" in text.lower() and "so far" in text, text
    # Its picture is there from its first second (the thumbnail is stored with the event).
    assert card.locator("img").count() == 1
    page.wait_for_function("(id) => { const i = document.querySelector(`.ev-card[data-event='${id}'] img`);"
                           " return i && i.complete && i.naturalWidth === 320; }", arg=eid, timeout=5000)
    assert page.locator(f'#tl-marks .ev-mark.ongoing[data-event="{eid}"]').count() == 1
    save_screenshot(page, "recordings_event_ongoing")
    # Once it has ended, the next refresh lists it as an ordinary event.
    wait_until(lambda: not httpx.get(system.url(path=f"/api/events/{eid}"), timeout=5).json()["ongoing"], 20, 0.2)
    page.click("#btn-refresh")
    page.wait_for_selector(f'#events-list .ev-card[data-event="{eid}"]:not(.ongoing)', timeout=10000)
    assert "in progress" not in page.locator(f'#events-list .ev-card[data-event="{eid}"]').inner_text().lower()
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_motion_badge_on_the_live_view_while_an_event_is_open(system: MotionSystem, browser: Browser) -> None:
    page, log = open_page(browser, system.url(path="/?view=dual&res=480p"))
    wait_playing(page)
    # A figure crosses every 10 s on both cameras: the badges come and go.
    page.wait_for_selector('.motion-badge[data-motion-cam="0"]:not([hidden])', timeout=20000)
    page.wait_for_selector('.motion-badge[data-motion-cam="1"]:not([hidden])', timeout=20000)
    box = page.locator('.motion-badge[data-motion-cam="1"]').bounding_box()
    stage = page.locator("#stage").bounding_box()
    assert box["x"] >= stage["x"] + stage["width"] / 2     # camera 1 is the right half
    save_screenshot(page, "live_motion_badge")
    page.wait_for_selector('.motion-badge[data-motion-cam="0"][hidden]', state="attached", timeout=20000)
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()
