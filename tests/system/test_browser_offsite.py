"""Off-site copies on the page, in a real headless Chromium: the banner under the disk banner
names the remote, counts the segments waiting and says why they do not leave, in the page's
language.

The system: camera 0 with its recorder (2 s segments), the streamer, and the offsite program
pointed at a WebDAV address where nothing listens (the line to the remote is down).
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.i18n import catalogue
from tests.support.browser import Browser, System, chromium, require_chromium, save_screenshot
from tests.support.offsite_servers import RCLONE
from tests.support.procs import free_port

require_chromium()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(RCLONE is None, reason="rclone is not installed (apt-get install rclone)")]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with System(tmp_path_factory.mktemp("browser-offsite")) as sysm:
        sysm.env["SHT__OFFSITE__REMOTE"] = f":webdav,url='http://127.0.0.1:{free_port()}':cctv"
        yield sysm.start(cameras=(0,), recorders=(0,), services=("offsite",))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _banner(browser: Browser, system: System, locale: str) -> dict[str, str]:
    page, log = browser.page(locale=locale)
    page.goto(system.url())
    page.wait_for_function("() => { const o = document.getElementById('offsite');"
                           " return o && !o.hidden && o.querySelector('[data-offsite-cause]')"
                           " && /[1-9]/.test(o.textContent); }", timeout=60_000)
    shown = page.evaluate("() => { const o = document.getElementById('offsite'); return {text: o.textContent,"
                          " cause: o.querySelector('[data-offsite-cause]').dataset.offsiteCause,"
                          " remote: o.querySelector('[data-offsite=remote]').textContent, title: o.title,"
                          " level: o.dataset.level, under_disk: o.previousElementSibling.id}; }")
    save_screenshot(page, f"offsite-{locale}")
    assert log.page_errors == [] and log.console_errors == []
    return shown


@pytest.mark.parametrize("locale, lang", [("en-US", "en"), ("ko-KR", "ko")])
def test_banner_shows_the_queue_and_the_cause(browser: Browser, system: System, locale: str, lang: str) -> None:
    words = catalogue(lang)
    shown = _banner(browser, system, locale)
    assert shown["cause"] == "network" and shown["under_disk"] == "disk" and shown["level"] == "warning"
    assert words["health.offsite_failing"].format(cause=words["health.offsite_cause_network"]) in shown["text"]
    assert shown["remote"].startswith(":webdav,url=http://127.0.0.1:") and shown["remote"].endswith(":cctv")
    assert words["health.offsite_title"] in shown["text"] and words["health.offsite_never_sent"] in shown["text"]
    waiting = words["health.offsite_queued"].split("{n}")
    assert waiting[0] in shown["text"] and waiting[1].split("{size}")[0] in shown["text"]
    assert shown["title"]   # rclone's own words, for whoever fixes it
