"""``python -m tests.screenshots --out DIR``: pictures of every view of the page.

Starts the system on the synthetic cameras (both captures, both recorders, the streamer, with
an admin account) in a temporary folder, and saves with Debian's Chromium the login page, the
live view and the recordings view, in English and in Korean, on a desktop (1280 px wide) and on
a phone (390 px wide): ``DIR/<view>_<language>_<device>.png``, whole pages; with ``--dark``
as a browser that asks for a dark page (``..._dark.png``).  Prints the files saved.  Korean
needs a Korean font (Debian's ``fonts-noto-cjk``).  Exit 2 without Chromium.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support.browser import Browser, chromium, chromium_path, log_in
from tests.support.procs import wait_until
from tests.support.security_rig import SecureSystem

LANGUAGES = {"en": "en-US", "ko": "ko-KR"}
DEVICES = {"desktop": (1280, 900), "phone": (390, 844)}
USER, PASSWORD = "owner", "screenshots 1"
SEGMENTS = 3          # finished segments of each camera before the pictures are taken
SETTLE_MS = 2500      # statistics, recorder cards and heartbeat filled in


def _finished(system: SecureSystem) -> bool:
    health = system.get("/api/health", auth=(USER, PASSWORD)).json()
    return all(c.get("segments_24h", 0) >= SEGMENTS for c in health.get("cameras", {}).values())


def _shoot(page: Any, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def views(browser: Browser, system: SecureSystem, lang: str, device: str, out: Path, dark: bool) -> list[Path]:
    """The login, live and recordings views in ``lang`` on ``device``."""
    page, _ = browser.page(*DEVICES[device], locale=LANGUAGES[lang], timezone="Asia/Seoul")
    page.emulate_media(color_scheme="dark" if dark else "light")
    tail = f"{lang}_{device}{'_dark' if dark else ''}"
    page.goto(system.origin + "/login")
    page.wait_for_selector("#login-form")
    saved = [_shoot(page, out, f"login_{tail}")]
    log_in(page, USER, PASSWORD)
    page.wait_for_function("() => document.getElementById('stage')?.dataset.state === 'playing'", timeout=30000)
    page.wait_for_function("() => document.querySelectorAll('#rec-cards .rec-card').length === 2", timeout=10000)
    page.wait_for_timeout(SETTLE_MS)
    saved.append(_shoot(page, out, f"live_{tail}"))
    page.click("#tab-recordings")
    page.wait_for_function("() => document.querySelectorAll('#segments tbody tr').length > 0", timeout=20000)
    page.wait_for_timeout(SETTLE_MS)
    saved.append(_shoot(page, out, f"recordings_{tail}"))
    page.context.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files (made if missing)")
    parser.add_argument("--dark", action="store_true", help="as a browser that asks for a dark page")
    args = parser.parse_args(argv)
    if chromium_path() is None:
        print("no Chromium found: install Debian's chromium (and fonts-noto-cjk for Korean)", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="sht-shots-") as tmp, \
            SecureSystem(Path(tmp), recorder__segment_seconds=2) as system:
        system.start(recorders=(0, 1))
        system.add_user(USER, PASSWORD, "admin")
        wait_until(lambda: _finished(system), 60, interval=0.5)
        with chromium() as browser:
            for lang in LANGUAGES:
                for device in DEVICES:
                    saved += views(browser, system, lang, device, out, args.dark)
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
