"""The page in Korean and in English, in a real headless Chromium: with ``Accept-Language:
ko-KR`` every word the main page, the recordings view and the login page show is Korean (a
short list of names and technical marks aside); with English, none is Korean.  The switch
on the page changes the language and remembers it."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from common.archive.gaplog import GapLog
from common.clock import local_text
from tests.support.browser import Browser, log_in, require_chromium, save_screenshot, wait_playing
from tests.support.mp4_files import write_segment
from tests.support.security_rig import SecureSystem

require_chromium()

# Shown in every language: the product's mark, the live and recording badges, stream kinds and
# sizes, byte units; the test's user name.  Camera names and file names are added per page.
EVERY_LANGUAGE = {"SHT", "LIVE", "REC", "MJPEG", "H.264", "480p", "720p", "B", "kB", "MB", "GB", "TB", "boss"}
FILE_NAME = r"[\w./-]+\.(?:mp4|zip)"

# Every visible element's own text (and the labels a user sees or hears: title, aria-label,
# alt, a select's options), outside parts marked as another language or not to translate.
SHOWN_JS = r"""() => {
  const lang = document.documentElement.lang;
  const foreign = (e) => e.closest(`[lang]:not([lang="${lang}"]), [translate="no"]`);
  const visible = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const out = [];
  for (const e of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'OPTION'].includes(e.tagName) || foreign(e) || !visible(e)) continue;
    const own = [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join(' ').trim();
    const parts = [own];
    for (const a of ['title', 'aria-label', 'alt', 'placeholder']) parts.push(e.getAttribute(a) || '');
    if (e.tagName === 'SELECT') for (const o of e.options) parts.push(o.textContent);
    for (const text of parts) if (text.trim()) out.push({id: e.id || e.className || e.tagName, text: text.trim()});
  }
  return out;
}"""
NAMES_JS = "() => Object.values(JSON.parse(document.getElementById('page-data').textContent).cameras)"


def foreign_words(page: Any, lang: str) -> list[tuple[str, str]]:
    """(element, text) of each visible text that is not in ``lang``: Latin words other than the
    list above on a Korean page, Hangul on an English one."""
    names = page.evaluate(NAMES_JS)
    found = []
    for item in page.evaluate(SHOWN_JS):
        text = item["text"]
        for name in names:
            text = text.replace(name, " ")
        text = re.sub(FILE_NAME, " ", text)
        if lang == "ko":
            words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]|[A-Za-z]", text)
                     if w not in EVERY_LANGUAGE and re.search(r"[A-Za-z]{2,}", w)]
        else:
            words = re.findall(r"[\uac00-\ud7a3\u3130-\u318f]+", text)
        if words:
            found.append((item["id"], item["text"]))
    return found


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureSystem]:
    with SecureSystem(tmp_path_factory.mktemp("language"), recorder__segment_seconds=2) as sysm:
        root = Path(sysm.env["SHT__RECORDER__ROOT"])
        day = datetime(2026, 11, 20, 8, 0, 0)   # camera 1: a past day with a gap the recorder explains
        for second in (0, 2, 30):
            write_segment(root, 1, day.replace(second=second), 2.0, width=640, height=360)
        GapLog(sysm.run_dir, 1).add("recorder started", at=day.replace(second=20).timestamp())
        yield sysm.start(recorders=(0,))


def _live_page_filled(page: Any) -> None:
    wait_playing(page)
    page.wait_for_function("() => document.getElementById('heartbeat').dataset.state === 'LIVE'"
                           " && document.getElementById('st-fps').textContent !== '–'"
                           " && document.getElementById('disk').dataset.level !== 'unknown'"
                           " && document.querySelector('#rec-cards [data-rec]')", timeout=20000)


def _recordings_filled(page: Any) -> None:
    page.click("#tab-recordings")
    page.wait_for_function("() => document.querySelectorAll('#segments tbody button[data-play]').length > 0",
                           timeout=20000)
    page.click("#segments tbody button[data-play]")
    page.wait_for_function("() => document.getElementById('player').currentTime > 0", timeout=15000)
    page.click("#btn-rcam1")
    page.wait_for_function("() => [...document.querySelectorAll('#day-select option')].some(o => o.value === '261120')",
                           timeout=10000)
    page.select_option("#day-select", "261120")
    page.wait_for_function("() => document.querySelectorAll('#segments tbody button[data-play]').length === 3",
                           timeout=10000)
    page.wait_for_selector("#tl-track .tl-gap[data-cause]")     # the gap's cause, in the page's language
    page.wait_for_selector("#events-list p")                    # no motion that day, said so


@pytest.mark.parametrize(("locale", "lang"), [("ko-KR", "ko"), ("en-US", "en")])
def test_every_visible_word_is_in_the_browsers_language(system: SecureSystem, browser: Browser,
                                                        locale: str, lang: str) -> None:
    page, log = browser.page(locale=locale)
    answer = page.goto(system.origin + "/")
    assert answer is not None and answer.headers["content-language"] == lang
    assert "Accept-Language" in answer.headers["vary"] and "Cookie" in answer.headers["vary"]
    assert page.evaluate("document.documentElement.lang") == lang
    _live_page_filled(page)
    # Paused from this machine (no account yet): the note says so in the page's language.
    page.click("#rec-cards [data-camera='0'] [data-rec-toggle]")
    page.wait_for_selector("#rec-cards [data-pause='0']", timeout=10000)
    page.wait_for_selector("#account #no-account")
    assert foreign_words(page, lang) == []
    save_screenshot(page, f"language_{lang}_live")
    page.click("#rec-cards [data-camera='0'] [data-rec-toggle]")
    page.wait_for_function("() => !document.querySelector(\"#rec-cards [data-pause='0']\")", timeout=10000)
    _recordings_filled(page)
    assert foreign_words(page, lang) == []
    save_screenshot(page, f"language_{lang}_recordings")
    assert log.page_errors == [], log
    page.context.close()


def test_the_switch_changes_the_language_and_remembers_it(system: SecureSystem, browser: Browser) -> None:
    page, log = browser.page(locale="ko-KR")
    page.goto(system.origin + "/")
    assert page.evaluate("document.documentElement.lang") == "ko"
    assert page.get_attribute("[data-lang='ko']", "aria-pressed") == "true"
    with page.expect_navigation():
        page.click("[data-lang='en']")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.text_content("#tab-live") == "Live"
    cookie = {c["name"]: c for c in page.context.cookies()}["lang"]
    assert cookie["value"] == "en" and cookie["sameSite"] == "Strict"
    page.goto(system.origin + "/")    # remembered over the browser's Korean
    assert page.evaluate("document.documentElement.lang") == "en"
    assert log.page_errors == [], log
    page.context.close()
    # On a phone the switch fits beside the title, nothing of the header cut off.
    phone, log = browser.page(390, 844, locale="ko-KR")
    phone.goto(system.origin + "/")
    for lang in ("ko", "en"):
        box = phone.locator(f"[data-lang='{lang}']").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert phone.evaluate("document.querySelector('.topbar').scrollWidth") <= 390
    save_screenshot(phone, "language_ko_phone")
    assert log.page_errors == [], log
    phone.context.close()


@pytest.mark.parametrize(("locale", "lang"), [("ko-KR", "ko"), ("en-US", "en")])
def test_login_page_in_the_browsers_language(system: SecureSystem, browser: Browser, locale: str, lang: str) -> None:
    if not system.users("list").stdout.strip():
        system.add_user("boss", "correct horse", "admin")
    page, log = browser.page(locale=locale)
    answer = page.goto(system.origin + "/login")
    assert answer is not None and answer.headers["content-language"] == lang
    page.wait_for_selector("#login-form")
    log_in(page, "boss", "wrong")
    page.wait_for_selector("#login-error:not([hidden])")
    assert foreign_words(page, lang) == []
    save_screenshot(page, f"language_{lang}_login")
    log_in(page, "boss", "correct horse")
    page.wait_for_url(re.compile(r".*/$|.*/\?.*"))
    page.wait_for_selector("#account-user")
    assert foreign_words(page, lang) == []
    assert log.page_errors == [], log
    page.context.close()


def test_times_are_the_cameras_whatever_the_browsers_zone(system: SecureSystem, browser: Browser) -> None:
    """One form, the cameras' zone: a browser on another continent sees the camera's clock."""
    page, log = browser.page(locale="ko-KR", timezone="Pacific/Kiritimati")   # UTC+14: never this machine's
    page.goto(system.origin + "/")
    if page.url.endswith("/login"):   # (the login tests of this module added an account)
        log_in(page, "boss", "correct horse")
        page.wait_for_selector("#foot")
    moments = [0, 1_764_856_025, int(time.time())]
    shown = page.evaluate("(ts) => ts.map((t) => window.SHT.fmtDateTime(t))", moments)
    assert shown == [local_text(t) for t in moments]
    own = page.evaluate("(t) => new Date(t * 1000).getHours()", moments[2])
    assert own != int(local_text(moments[2])[11:13])     # (the browser's own clock is another)
    page.wait_for_function("() => document.getElementById('foot').textContent.includes(':')", timeout=10000)
    foot = page.text_content("#foot")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", foot), foot
    assert foot[-8:-6] in {local_text(time.time() - 10)[11:13], local_text(time.time())[11:13]}, foot
    assert log.page_errors == [], log
    page.context.close()
