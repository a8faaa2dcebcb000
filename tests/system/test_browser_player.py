"""The recordings view's day player in a real headless Chromium: it plays on across segment
files and skips a gap saying so, its bars are sliders the keyboard moves, motion has a strip of
its own so a gap under an event stays visible, and one list holds both cameras' events.

The archive is made beforehand: camera 0 ("Door") has 10:00:00-10:00:12 in three 4 s files, an
18 s gap, then 10:00:30-10:00:38; camera 1 ("Till") 10:00:00-10:00:12.  Three motion events,
one of camera 0 spanning the gap.  No recorder runs: the archive stays as made, but for the one
file the first test adds as a recorder would.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from common.archive import events as store
from motion.thumbnail import thumbnail_jpeg
from tests.support.browser import Browser, System, open_page, require_chromium, save_screenshot
from tests.support.mp4_files import write_segment

require_chromium()

DAY = datetime(2026, 12, 3, 10, 0, 0)
CAM0 = (0, 4, 8, 30, 34)   # seconds after 10:00:00 each 4 s file of camera 0 starts
CAM1 = (0, 4, 8)
NAMES = ("Door", "Till")
# camera, start, end (seconds after 10:00:00), moving area (x, y, width, height in %)
EVENTS = ((0, 2, 3, None), (1, 5, 7, (50.0, 10.0, 30.0, 30.0)), (0, 10, 32, (25.0, 30.0, 20.0, 40.0)))


def file_of(cam: int, second: int) -> str:
    return f"cam{cam}_{(DAY + timedelta(seconds=second)):%Y%m%d_%H%M%S}.mp4"


def _picture() -> bytes:
    w, h = 320, 240
    return thumbnail_jpeg((np.full((h, w), 90, np.uint8), np.full((h // 2, w // 2), 128, np.uint8),
                           np.full((h // 2, w // 2), 128, np.uint8)))


def _events(root: Path) -> list[int]:
    st = store.EventStore(store.db_path(root))
    ids = []
    try:
        for cam, start, end, bbox in EVENTS:
            t0 = DAY.timestamp()
            eid = st.open_event(cam, t0 + start, 0.0, 1.0, 3.0, bbox, t0 + start, _picture())
            st.close_event(eid, t0 + end, end - start, "quiet", t0 + end, end - start, 3.0, bbox, t0 + start, None)
            ids.append(eid)
    finally:
        st.close()
    return ids


class PlayerSystem(System):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.env["SHT__CAMERA__NAMES"] = '["Door", "Till"]'
        self.procs.env = self.env
        for cam, starts in ((0, CAM0), (1, CAM1)):
            for second in starts:
                write_segment(self.root, cam, DAY + timedelta(seconds=second), 4.0, fps=10)
        self.event_ids = _events(self.root)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlayerSystem]:
    with PlayerSystem(tmp_path_factory.mktemp("browser-player")) as sysm:
        yield sysm.start(cameras=(0, 1), recorders=())


def _recordings(browser: Browser, system: PlayerSystem, cam: int = 0) -> tuple[Any, Any]:
    page, log = open_page(browser, system.url(path="/#recordings"))
    page.click(f"#btn-rcam{cam}")
    page.wait_for_selector(f'#segments tr[data-file="{file_of(cam, 0)}"]', timeout=20000)
    return page, log


def _shown(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => { const v = document.getElementById('player');
        return {file: v.dataset.file || '', hidden: v.hidden, now: window.SHT.player.current()}; }""")


def test_the_player_plays_on_across_files_and_skips_the_gap_saying_so(system: PlayerSystem, browser: Browser) -> None:
    page, log = _recordings(browser, system)
    # Which file is on screen, noted whenever it changes.
    page.evaluate("""() => { window.seen = []; setInterval(() => {
        const f = document.getElementById('player').dataset.file;
        if (f && window.seen[window.seen.length - 1] !== f) window.seen.push(f); }, 50); }""")
    page.click(f'[data-play="{file_of(0, 0)}"]')
    page.wait_for_function("(f) => window.seen.includes(f)", arg=file_of(0, 30), timeout=60000)
    assert page.evaluate("window.seen") == [file_of(0, s) for s in (0, 4, 8, 30)]
    note = page.text_content("#playing-note")
    assert "Skipped a gap of 18.0 s" in note and "10:00:12 – 10:00:30" in note, note
    assert page.get_attribute("#playing-note", "role") == "status"
    # Only the file on screen shows; the next one is already loaded in the other element.
    page.wait_for_function("""(f) => { const n = document.getElementById('player-next');
        return n.hidden && n.dataset.file === f && n.readyState >= 2; }""", arg=file_of(0, 34), timeout=15000)
    assert not _shown(page)["hidden"]
    page.wait_for_function("(f) => document.getElementById('player').dataset.file === f",
                           arg=file_of(0, 34), timeout=30000)
    assert page.text_content("#playing-note") == ""   # back to back: nothing to say
    page.wait_for_function("() => document.getElementById('playing-note').textContent.includes('End of')",
                           timeout=30000)
    # A file added to the day (as the recorder does every segment): the player goes on with it.
    write_segment(system.root, 0, DAY + timedelta(seconds=38), 4.0, fps=10)
    page.click("#btn-refresh")
    page.wait_for_function("(f) => document.getElementById('player').dataset.file === f", arg=file_of(0, 38),
                           timeout=20000)
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_the_bars_are_sliders_the_keyboard_plays_any_time_across_files(system: PlayerSystem,
                                                                       browser: Browser) -> None:
    page, log = _recordings(browser, system)
    for bar in ("#timeline", "#hourline"):
        assert page.get_attribute(bar, "role") == "slider" and page.get_attribute(bar, "tabindex") == "0"
        assert page.get_attribute(bar, "aria-label")
    last = page.get_attribute("#segments tbody tr:first-child", "data-file")   # newest first
    page.focus("#hourline")
    page.keyboard.press("End")      # the day's last file
    page.wait_for_function("(f) => document.getElementById('player').dataset.file === f", arg=last, timeout=15000)
    assert page.get_attribute("#hourline", "aria-valuetext").startswith("10:00:3")
    page.evaluate("window.SHT.player.pause()")
    page.keyboard.press("ArrowLeft")   # 10 s back (from 10:00:34 or :38): into the gap, so the second before it
    page.wait_for_function("(f) => document.getElementById('player').dataset.file === f", arg=file_of(0, 8),
                           timeout=15000)
    note = page.text_content("#playing-note")
    assert note.startswith("Nothing recorded at 10:00:2") and note.endswith("playing from 10:00:11"), note
    # 10:00:11 is in camera 0's long event: the position says so.
    page.wait_for_function("() => /^10:00:1[12], motion$/.test("
                           "document.getElementById('hourline').getAttribute('aria-valuetext'))", timeout=10000)
    assert page.evaluate("document.getElementById('player').paused")   # paused, it stays so
    page.keyboard.press("ArrowLeft")   # 10 s back again: the first file
    page.wait_for_function("(f) => document.getElementById('player').dataset.file === f", arg=file_of(0, 0),
                           timeout=15000)
    when = _shown(page)["now"]["when"]
    assert 36000 <= when < 36003, when
    value = int(page.get_attribute("#timeline", "aria-valuenow"))
    assert 36000 <= value <= 36003 and page.get_attribute("#timeline", "aria-valuetext").startswith("10:00:0")
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def _box(page: Any, selector: str) -> dict[str, float]:
    """The element's box once it is shown: the bars are drawn again at each refresh of the day,
    so a look may fall between the old element going and the new one being laid out."""
    box = None
    for _ in range(20):
        page.wait_for_selector(selector, state="visible", timeout=10000)
        box = page.locator(selector).bounding_box()
        if box is not None:
            break
        page.wait_for_timeout(100)
    assert box is not None, selector
    return box


def test_motion_has_its_own_strip_so_a_gap_under_an_event_stays_visible(system: PlayerSystem,
                                                                        browser: Browser) -> None:
    page, log = _recordings(browser, system)
    long_event = system.event_ids[2]   # 10:00:10-10:00:32, over the gap
    for bar in ("tl", "hour"):
        mark = f'#{bar}-marks .ev-mark[data-event="{long_event}"]'
        page.wait_for_selector(mark, timeout=20000)
        gap, ev = _box(page, f"#{bar}-track .tl-gap"), _box(page, mark)
        assert ev["y"] >= gap["y"] + gap["height"], (bar, gap, ev)   # under the bar, not on it
        # What is seen (and hovered) at the gap's middle is the gap.
        hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y).className",
                            [gap["x"] + gap["width"] / 2, gap["y"] + gap["height"] / 2])
        assert "tl-gap" in hit, (bar, hit)
    save_screenshot(page, "recordings_motion_strip")
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_one_list_holds_both_cameras_events_newest_first_with_the_moving_area_outlined(
        system: PlayerSystem, browser: Browser) -> None:
    page, log = _recordings(browser, system)
    ids = system.event_ids
    page.wait_for_selector(f'#events-list .ev-card[data-event="{ids[1]}"]', timeout=20000)
    cards = page.locator("#events-list .ev-card")
    assert [cards.nth(i).get_attribute("data-event") for i in range(cards.count())] == [str(i) for i in ids[::-1]]
    assert [cards.nth(i).locator(".ev-cam").inner_text() for i in range(3)] == ["Door", "Till", "Door"]
    # The outline: the event's area in % of the picture, over the picture.
    card = f'#events-list .ev-card[data-event="{ids[2]}"]'
    page.wait_for_function("(c) => document.querySelector(c + ' img').naturalWidth === 320", arg=card, timeout=10000)
    pic, box = _box(page, f"{card} img"), _box(page, f"{card} .ev-box")
    for got, want in ((box["x"] - pic["x"], 0.25 * pic["width"]), (box["y"] - pic["y"], 0.30 * pic["height"]),
                      (box["width"], 0.20 * pic["width"]), (box["height"], 0.40 * pic["height"])):
        assert abs(got - want) <= 1.0, (box, pic)
    assert page.locator(f'#events-list .ev-card[data-event="{ids[0]}"] .ev-box').count() == 0   # no area known
    save_screenshot(page, "recordings_events_both_cameras")

    # An event of the other camera: its camera's day comes on show and the title names it.
    page.click(f'#events-list .ev-card[data-event="{ids[1]}"]')
    page.wait_for_function("(f) => document.getElementById('player').dataset.file === f", arg=file_of(1, 4),
                           timeout=20000)
    assert page.text_content("#playing-title").startswith("Till,")
    assert page.get_attribute("#btn-rcam1", "aria-pressed") == "true"
    # Camera 0's day on show while camera 1's file plays: the title stays with what plays.
    page.click("#btn-rcam0")
    page.wait_for_selector(f'#segments tr[data-file="{file_of(0, 30)}"]', timeout=20000)
    assert page.text_content("#playing-title").startswith("Till,")
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_on_a_phone_the_segments_list_and_the_events_fit_the_screen(system: PlayerSystem, browser: Browser) -> None:
    page, log = browser.page(390, 844)
    page.goto(system.url(path="/#recordings"))
    page.click("#btn-rcam0")
    page.wait_for_selector(f'#segments tr[data-file="{file_of(0, 0)}"]', timeout=20000)
    page.wait_for_selector("#events-list .ev-card", timeout=20000)
    # Each button, card and the player inside its panel (a scrolling box would hide what is past its edge).
    cut = page.evaluate("""() => [...document.querySelectorAll('#segments .btn, #events-list .ev-card, #player')]
        .filter((e) => { const r = e.getBoundingClientRect(), p = e.closest('.panel').getBoundingClientRect();
                         return r.left < p.left || r.right > p.right; })
        .map((e) => e.textContent || e.id)""")
    assert cut == [], cut
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    save_screenshot(page, "recordings_phone")
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()


def test_in_korean_the_player_says_where_it_plays_in_korean(system: PlayerSystem, browser: Browser) -> None:
    page, log = browser.page(1400, 1000, locale="ko-KR")
    page.goto(system.url(path="/#recordings"))
    page.click("#btn-rcam0")
    page.wait_for_selector(f'#segments tr[data-file="{file_of(0, 0)}"]', timeout=20000)
    page.wait_for_selector("#events-list .ev-card", timeout=20000)
    assert page.get_attribute("#hourline", "aria-label").startswith("한 시간")
    page.focus("#hourline")
    page.keyboard.press("End")
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=15000)
    page.evaluate("window.SHT.player.pause()")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("(f) => document.getElementById('player').dataset.file === f", arg=file_of(0, 8),
                           timeout=15000)
    note = page.text_content("#playing-note")
    assert re.fullmatch(r"10:00:2\d에는 녹화가 없어 10:00:11부터 재생합니다", note), note
    page.wait_for_function("() => document.getElementById('hourline').getAttribute('aria-valuetext')"
                           " === '10:00:11, 움직임'", timeout=10000)
    assert log.console_errors == [] and log.page_errors == [], log
    page.context.close()
