"""Debian's headless Chromium driven by Playwright, and the system it tests the page against.

No browser is downloaded: Playwright is pointed at the system ``chromium``.  Every page
records console errors and uncaught exceptions so tests can assert there are none.
:class:`System` runs real capture, streamer and recorder processes in an isolated
environment and reaches the page from other client addresses through relays.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
import pytest

from tests.support.procs import ProcessSystem, Procs, isolated_env, wait_until
from tests.support.relay import AddressRelay

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(os.environ.get("SHT_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts"))


def chromium_path() -> str | None:
    explicit = os.environ.get("SHT_CHROMIUM")
    if explicit:
        return explicit if os.path.exists(explicit) else None
    for path in CHROMIUM_CANDIDATES:
        if os.path.exists(path):
            return path
    return shutil.which("chromium")


def require_chromium() -> None:
    """Skip the calling test module when there is no Chromium; with SHT_REQUIRE_BROWSER=1 that is an error."""
    if chromium_path() is None:
        if os.environ.get("SHT_REQUIRE_BROWSER") == "1":
            raise RuntimeError("SHT_REQUIRE_BROWSER=1 but no Chromium is installed")
        pytest.skip("Chromium is not installed (apt install chromium); the browser tests need it",
                    allow_module_level=True)


@dataclass
class PageLog:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.console_errors.clear()
        self.page_errors.clear()


@dataclass
class Browser:
    """One Chromium with its own profile; ``page()`` opens a tab that logs its errors."""

    playwright: Any
    browser: Any
    pages: list[tuple[Any, PageLog]] = field(default_factory=list)

    def page(self, width: int = 1400, height: int = 1000, locale: str | None = None,
             timezone: str | None = None) -> tuple[Any, PageLog]:
        """A tab ``width`` x ``height``; ``locale`` ("ko-KR") sets the browser's language and
        so its ``Accept-Language``, ``timezone`` ("Asia/Seoul") the browser's clock zone."""
        context = self.browser.new_context(viewport={"width": width, "height": height},
                                           **({"locale": locale} if locale else {}),
                                           **({"timezone_id": timezone} if timezone else {}))
        page = context.new_page()
        log = PageLog()
        page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: log.page_errors.append(str(exc)))
        self.pages.append((page, log))
        return page, log

    def close_pages(self) -> None:
        """Close every tab opened so far (and so its streams), even after a failed test."""
        for page, _ in self.pages:
            try:
                page.context.close()
            except Exception:  # already closed by the test
                pass
        self.pages.clear()


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium found (install Debian's chromium package)")
    # Playwright gives every launch a fresh temporary profile of its own.
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield Browser(p, browser)
        finally:
            browser.close()


def save_screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")  # test output, never part of the repository
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# Draws the live image into a small canvas: a signature (to see it move) and its contrast.
PICTURE_JS = """() => {
  const img = document.getElementById('live-img');
  if (!img.naturalWidth) return null;
  const c = document.createElement('canvas'); c.width = 160; c.height = 60;
  const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0, c.width, c.height);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let h = 0, sum = 0, sq = 0, n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    sum += y; sq += y * y; n += 1; h = (Math.imul(h, 31) + d[i] + d[i + 1] + d[i + 2]) | 0;
  }
  const mean = sum / n;
  return {sig: h, mean, std: Math.sqrt(Math.max(0, sq / n - mean * mean))};
}"""


class System(ProcessSystem):
    def __init__(self, tmp: Path) -> None:
        self.env = isolated_env(tmp / "sht", recorder__segment_seconds=2)
        self.port = int(self.env["SHT__STREAMER__PORT"])
        self.procs = Procs(self.env, tmp / "logs")
        self.root = Path(self.env["SHT__RECORDER__ROOT"])
        self.relays: dict[str, AddressRelay] = {}

    def url(self, source: str = "127.0.0.1", path: str = "/") -> str:
        """The page as seen from client address ``source`` (another loopback address goes through a relay)."""
        if source == "127.0.0.1":
            return f"http://127.0.0.1:{self.port}{path}"
        if source not in self.relays:
            self.relays[source] = AddressRelay(self.port, source)
        return self.relays[source].url(path)

    def start(self, cameras: tuple[int, ...] = (0, 1), recorders: tuple[int, ...] = (0,),
              services: tuple[str, ...] = ()) -> Self:
        """Captures, recorders and other services (``python -m NAME``), then the streamer once it serves."""
        for cam in cameras:
            self.procs.capture(cam)
        for cam in recorders:
            self.procs.start(f"recorder{cam}", "-m", "recorder", "--camera", str(cam))
        for service in services:
            self.procs.start(service, "-m", service)
        self.start_streamer()
        return self

    def start_streamer(self) -> None:
        self.procs.start_streamer(view="dual")

    def close(self) -> None:
        for relay in self.relays.values():
            relay.close()
        self.procs.close()


def open_page(browser: Browser, url: str, width: int = 1400, height: int = 1000) -> tuple[Any, PageLog]:
    page, log = browser.page(width, height)
    page.goto(url)
    return page, log


def log_in(page: Any, user: str, password: str) -> None:
    """Fill in and send the login form."""
    page.fill("#login-user", user)
    page.fill("#login-password", password)
    page.click("#login-submit")


def wait_playing(page: Any, timeout_s: float = 20) -> None:
    page.wait_for_function("() => document.getElementById('stage').dataset.state === 'playing'"
                           " && document.getElementById('live-img').naturalWidth > 0", timeout=timeout_s * 1000)


def picture(page: Any) -> dict[str, float] | None:
    return page.evaluate(PICTURE_JS)


def assert_moving(page: Any) -> None:
    """The picture changes within a few seconds (the overlay clock ticks every second)."""
    first = picture(page)
    assert first is not None
    wait_until(lambda: (p := picture(page)) is not None and p["sig"] != first["sig"], 6, interval=0.2)


def viewers(system: System) -> list[dict[str, Any]]:
    return httpx.get(system.url(path="/api/status"), timeout=5).json()["viewers"]
