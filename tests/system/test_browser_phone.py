"""Phone first and accessible, in a real headless Chromium: a 390 px phone (or Save-Data) starts
in the low-data view, a tap gives one camera full screen, nothing is cut off at 390 px in
either language, the focus ring is visible (>= 3:1), the page follows a dark browser, and the
live picture is named after its cameras.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.support.browser import Browser, System, require_chromium, save_screenshot, wait_playing

require_chromium()

PHONE = (390, 844)
LOW_DATA_PLAYING = ("() => document.getElementById('btn-lowdata').getAttribute('aria-pressed') === 'true'"
                    " && document.getElementById('stage').dataset.state === 'playing'"
                    " && document.querySelectorAll('#low-videos video').length === {n}")

# Elements that are visible but reach past the screen, or past a box that clips or scrolls them.
CUT_OFF_JS = """() => {
  const out = [];
  const W = window.innerWidth;
  const clips = (el) => { const o = getComputedStyle(el).overflowX; return o !== 'visible'; };
  const kinds = 'button, a, input, select, td, th, h1, h2, h3, p, label, code, video, img, dd, dt, span';
  for (const el of document.querySelectorAll(kinds)) {
    if (!el.offsetParent || el.closest('.sr-only, [hidden]')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    let bad = r.left < -1 || r.right > W + 1;
    for (let a = el.parentElement; a && !bad && a !== document.body; a = a.parentElement) {
      if (!clips(a)) continue;
      const b = a.getBoundingClientRect();
      bad = r.left < b.left - 1 || r.right > b.right + 1;
    }
    const what = `${el.tagName.toLowerCase()}#${el.id}.${el.className}`;
    if (bad) out.push(`${what} "${(el.textContent || '').trim().slice(0, 30)}" ${r.left | 0}..${r.right | 0}`);
  }
  return {scroll: document.documentElement.scrollWidth, width: W, out};
}"""

# How many lines the text ``word`` takes where it first appears inside ``selector``.
LINES_OF_JS = """([selector, word]) => {
  const walker = document.createTreeWalker(document.querySelector(selector), NodeFilter.SHOW_TEXT);
  let text = '', nodes = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) { nodes.push([n, text.length]); text += n.data; }
  const at = text.indexOf(word);
  if (at < 0) return 0;
  const tops = new Set();
  for (const [n, start] of nodes) {
    for (let i = Math.max(at, start); i < Math.min(at + word.length, start + n.data.length); i += 1) {
      const r = document.createRange(); r.setStart(n, i - start); r.setEnd(n, i - start + 1);
      for (const rect of r.getClientRects()) tops.add(Math.round(rect.top));
    }
  }
  return tops.size;
}"""

FOCUS_JS = """() => {
  const el = document.activeElement, s = getComputedStyle(el);
  return {tag: el.tagName, cls: el.className, style: s.outlineStyle, width: parseFloat(s.outlineWidth),
          color: s.outlineColor, bg: getComputedStyle(document.body).backgroundColor,
          panel: getComputedStyle(document.querySelector('.panel')).backgroundColor,
          text: getComputedStyle(document.body).color};
}"""


def _rgba(css: str) -> tuple[float, float, float, float]:
    nums = [float(x) for x in re.findall(r"[\d.]+", css)]
    return nums[0], nums[1], nums[2], nums[3] if len(nums) > 3 else 1.0


def _luminance(rgb: tuple[float, float, float]) -> float:
    def lin(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(front: str, back: str) -> float:
    """WCAG contrast of colour ``front`` (its alpha laid over ``back``) against ``back``."""
    fr, fg, fb, fa = _rgba(front)
    br, bg, bb, _ = _rgba(back)
    mixed = (fr * fa + br * (1 - fa), fg * fa + bg * (1 - fa), fb * fa + bb * (1 - fa))
    hi, lo = sorted((_luminance(mixed), _luminance((br, bg, bb))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with System(tmp_path_factory.mktemp("phone")) as sysm:
        yield sysm.start(cameras=(0, 1), recorders=(0, 1))   # the low-data view is the recorders' H.264


def test_a_phone_gets_the_low_data_view_and_a_tapped_camera_full_screen(system: System, browser: Browser) -> None:
    page, log = browser.page(*PHONE)
    page.goto(system.url())
    page.wait_for_function(LOW_DATA_PLAYING.replace("{n}", "2"), timeout=25000)
    assert page.evaluate("document.getElementById('live-img').hasAttribute('src')") is False
    # The two tiles one above the other, each the screen's width (less the margins).
    widths = page.evaluate("[...document.querySelectorAll('#low-videos video')]"
                           ".map(v => v.getBoundingClientRect().width)")
    assert all(w > 330 for w in widths), widths
    save_screenshot(page, "phone_low_data")
    page.click("#low-video-1")
    page.wait_for_function("() => document.fullscreenElement?.id === 'stage'", timeout=5000)
    assert page.get_attribute("#stage", "data-solo") == "1"
    assert page.is_visible("#fs-exit") and not page.is_visible("#low-video-0") and page.is_visible("#low-video-1")
    page.click("#fs-exit")
    page.wait_for_function("() => document.fullscreenElement === null"
                           " && !document.getElementById('stage').hasAttribute('data-solo')", timeout=5000)
    assert page.is_visible("#low-video-0")
    assert not page.is_visible("#fs-exit")
    # From the keyboard: the full-screen button, the whole view.
    page.focus("#fs-enter")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.fullscreenElement?.id === 'stage'", timeout=5000)
    assert page.get_attribute("#stage", "data-solo") is None and page.is_visible("#low-video-0")
    page.click("#fs-exit")
    page.wait_for_function("() => document.fullscreenElement === null", timeout=5000)
    assert log.page_errors == [], log


def test_save_data_gets_the_low_data_view_on_a_wide_screen(system: System, browser: Browser) -> None:
    page, log = browser.page(1280, 900)
    page.set_extra_http_headers({"Save-Data": "on"})
    page.goto(system.url(path="/?view=0&res=480p"))
    page.wait_for_function(LOW_DATA_PLAYING.replace("{n}", "1"), timeout=25000)
    # The statistics say what is shown: the recorder's H.264, not the MJPEG view's 480p.
    page.wait_for_function("() => document.getElementById('st-showing').textContent.includes('low data')",
                           timeout=10000)
    assert "480p" not in page.text_content("#st-showing")
    assert log.page_errors == [], log


def test_a_desktop_keeps_mjpeg(system: System, browser: Browser) -> None:
    page, log = browser.page(1280, 900)
    page.goto(system.url(path="/?view=0&res=480p"))
    wait_playing(page)
    assert page.get_attribute("#btn-lowdata", "aria-pressed") == "false"
    assert log.page_errors == [], log


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_nothing_is_cut_off_at_390_px(system: System, browser: Browser, locale: str) -> None:
    page, log = browser.page(*PHONE, locale=locale)
    page.goto(system.url())
    page.wait_for_function(LOW_DATA_PLAYING.replace("{n}", "2"), timeout=25000)
    page.wait_for_selector("#account code", timeout=10000)
    page.wait_for_function("() => document.querySelectorAll('#rec-cards .rec-card').length === 2", timeout=10000)
    live = page.evaluate(CUT_OFF_JS)
    assert live["scroll"] <= live["width"] and live["out"] == [], live
    # The command to add an admin breaks between its words, never inside "--role".
    assert page.evaluate(LINES_OF_JS, ["#account code", "--role"]) == 1
    # A hidden button stays hidden although buttons are inline blocks.
    assert page.evaluate("getComputedStyle(document.getElementById('btn-other-res')).display") == "none"
    save_screenshot(page, f"phone_live_{locale}")
    page.click("#tab-recordings")
    page.wait_for_function("() => document.querySelectorAll('#segments tbody a[download]').length > 0", timeout=20000)
    recs = page.evaluate(CUT_OFF_JS)
    assert recs["scroll"] <= recs["width"] and recs["out"] == [], recs
    save_screenshot(page, f"phone_recordings_{locale}")
    assert log.page_errors == [], log


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_keyboard_focus_ring_has_3_to_1_contrast(system: System, browser: Browser, scheme: str) -> None:
    page, log = browser.page(1280, 900)
    page.emulate_media(color_scheme=scheme)
    page.goto(system.url())
    wait_playing(page)
    for _ in range(8):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('btn')"):
            break
    ring = page.evaluate(FOCUS_JS)
    assert ring["style"] != "none" and ring["width"] >= 2, ring
    assert contrast(ring["color"], ring["bg"]) >= 3 and contrast(ring["color"], ring["panel"]) >= 3, ring
    assert log.page_errors == [], log


def test_a_dark_browser_gets_a_dark_page(system: System, browser: Browser) -> None:
    page, log = browser.page(1280, 900)
    page.emulate_media(color_scheme="dark")
    page.goto(system.url())
    wait_playing(page)
    colours = page.evaluate(FOCUS_JS)
    assert _luminance(_rgba(colours["bg"])[:3]) < 0.05, colours
    assert contrast(colours["text"], colours["bg"]) >= 7, colours
    save_screenshot(page, "dark_live")
    assert log.page_errors == [], log


def test_the_live_picture_is_named_after_its_cameras_in_the_pages_language(system: System, browser: Browser) -> None:
    page, log = browser.page(1280, 900, locale="ko-KR")
    page.goto(system.url(path="/?view=dual&res=480p"))
    wait_playing(page)
    alt = page.get_attribute("#live-img", "alt")
    names = page.evaluate("[window.SHT.camName('0'), window.SHT.camName('1')]")
    assert all(name in alt for name in names) and "실시간" in alt, (alt, names)
    page.click("#btn-cam1")
    page.wait_for_function(f"() => document.getElementById('live-img').alt.includes('{names[1]}')"
                           f" && !document.getElementById('live-img').alt.includes('{names[0]}')", timeout=5000)
    assert log.page_errors == [], log


def test_a_phone_without_a_cameras_video_falls_back_to_mjpeg(system: System, browser: Browser) -> None:
    """Camera 1's recorder (the low-data view's source) is not running: the phone's default view
    gives way to MJPEG after a while instead of showing nothing."""
    system.procs.stop("recorder1")
    try:
        page, log = browser.page(*PHONE)
        page.goto(system.url(path="/?view=dual&res=480p"))
        wait_playing(page, timeout_s=45)   # three tries of 5 s + 2 s, then MJPEG
        assert page.get_attribute("#btn-lowdata", "aria-pressed") == "false"
        assert page.evaluate("document.querySelectorAll('#low-videos video').length") == 0
        assert log.page_errors == [], log
    finally:
        system.procs.start("recorder1", "-m", "recorder", "--camera", "1")
