"""Accounts in a real headless Chromium: the add-an-admin hint, login, live picture, who
paused recording and for how long, viewer role, logout, and HTTP Basic for old clients."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.browser import Browser, assert_moving, log_in, require_chromium, save_screenshot, wait_playing
from tests.support.procs import wait_until
from tests.support.security_rig import SecureSystem

require_chromium()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureSystem]:
    with SecureSystem(tmp_path_factory.mktemp("login")) as sysm:
        yield sysm.start(recorders=(0,))


def test_login_logout_and_roles(system: SecureSystem, browser: Browser, tmp_path: Path) -> None:
    page, log = browser.page()
    # No account yet: the page says how to add an admin.
    page.goto(system.origin + "/")
    wait_playing(page)
    page.wait_for_selector("#no-account")
    assert "python -m streamer.users add NAME --role admin" in page.text_content("#account")
    # Accounts added while the streamer runs take effect at once.
    system.add_user("boss", "correct horse", "admin")
    system.add_user("guest", "guest pass 1", "viewer")
    page.goto(system.origin + "/")
    page.wait_for_url(re.compile(r".*/login$"))
    log_in(page, "boss", "not it at all")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "Wrong user name or password" in page.text_content("#login-error")
    log_in(page, "boss", "correct horse")
    page.wait_for_url(re.compile(r".*/$|.*/\?.*"))
    wait_playing(page)
    assert_moving(page)
    assert page.text_content("#account-user") == "boss (admin)"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["sht_session"]["httpOnly"] and cookies["sht_session"]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""   # not readable by scripts
    # Pause from the page: the card says who, from where, when, and the time left.
    toggle = "#rec-cards [data-camera='0'] [data-rec-toggle]"
    page.wait_for_function(f"() => document.querySelector(\"{toggle}\")?.textContent === 'Pause recording'",
                           timeout=10000)
    page.click(toggle)
    page.wait_for_selector("#rec-cards [data-pause='0']", timeout=10000)
    note = page.text_content("#rec-cards [data-pause='0']")
    assert re.match(r"Recording paused by boss from this machine at \d\d:\d\d:\d\d; "
                    r"resumes by itself in (60|59) min\.", note), note
    save_screenshot(page, "login_paused_by_admin")
    page.click(toggle)
    page.wait_for_function("() => !document.querySelector(\"#rec-cards [data-pause='0']\")", timeout=10000)
    # Log out: back to the login page, the stream is closed, and nothing answers without a login.
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/login$"))
    # (the page's own requests get no password prompt, so this cannot hang on one)
    assert page.evaluate("fetch('/api/status').then(r => r.status)") == 401
    wait_until(lambda: httpx.get(system.origin + "/api/status", timeout=5,
                                 auth=("boss", "correct horse")).json()["viewers"] == [], 10, interval=0.2)
    # A viewer: watches, but the recording buttons are off.
    log_in(page, "guest", "guest pass 1")
    page.wait_for_url(re.compile(r".*/$|.*/\?.*"))
    wait_playing(page)
    assert page.text_content("#account-user") == "guest (viewer)"
    page.wait_for_selector(f"{toggle}[disabled]", timeout=10000)
    assert page.evaluate("fetch('/api/recording/stop/0', {method: 'POST'}).then(r => r.status)") == 403
    assert log.console_errors == [] or all("401" in e or "403" in e for e in log.console_errors), log
    assert log.page_errors == [], log
    page.context.close()


def test_basic_auth_after_the_browser_prompt(system: SecureSystem, browser: Browser) -> None:
    """An old client that answers the browser's password prompt (Playwright answers it here)."""
    if not system.users("list").stdout:
        system.add_user("guest", "guest pass 1", "viewer")
    context = browser.browser.new_context(http_credentials={"username": "guest", "password": "guest pass 1"})
    try:
        page = context.new_page()
        r = page.goto(system.origin + "/api/stats")
        assert r is not None and r.status == 200 and "active_clients" in page.text_content("body")
        # The live stream opened directly, as the old client's users do.
        r = page.goto(system.origin + "/stream/0?res=480p", wait_until="commit")
        assert r is not None and r.status == 200
        page.wait_for_function("() => document.images.length > 0 && document.images[0].naturalWidth === 640",
                               timeout=15000)
    finally:
        context.close()
