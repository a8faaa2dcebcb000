"""Korean and English: both catalogues complete and alike, every word of the page from them,
the language chosen per request, the page served in it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from common.config import load
from common.i18n import DETAIL, LANGUAGES, catalogue, choose, placeholders, text
from streamer.pages import MARKER, STATIC_DIR, render
from tests.support.page_text import HANGUL, html_words, script_words
from tests.support.procs import REPO

USED_IN_SCRIPTS = re.compile(r"\bt\(\s*\"([a-z0-9_.]+)\"")
# A string in the programs that is a catalogue key: a word of a catalogue prefix, a dot, more.
KEY_IN_PYTHON = re.compile(r"[\"']([a-z]+\.[a-z0-9_.]+)[\"']")
NOT_KEYS = {"camera.source", "camera.sources", "events.sqlite", "export.lock"}   # settings and files
SCRIPTS = sorted(STATIC_DIR.glob("*.js"))
BODIES = sorted(STATIC_DIR.glob("*.body.html"))


def test_both_catalogues_have_the_same_keys() -> None:
    en, ko = catalogue("en"), catalogue("ko")
    assert sorted(set(en) - set(ko)) == [], "missing in Korean"
    assert sorted(set(ko) - set(en)) == [], "missing in English"
    assert all(en[k].strip() and ko[k].strip() for k in en), "an empty message"


def test_a_message_has_the_same_parameters_in_both_languages() -> None:
    """Only the technical detail may be left out of a translation."""
    en, ko = catalogue("en"), catalogue("ko")
    differ = {k: (en[k], ko[k]) for k in en if placeholders(en[k]) - {DETAIL} != placeholders(ko[k]) - {DETAIL}
              or DETAIL in placeholders(ko[k]) - placeholders(en[k])}
    assert differ == {}


def test_english_has_no_hangul_and_korean_is_korean() -> None:
    assert [k for k, m in catalogue("en").items() if HANGUL.search(m)] == []
    # A Korean message is Korean unless it is only a parameter frame or a word every language shows.
    latin_only = [k for k, m in catalogue("ko").items()
                  if not HANGUL.search(m) and re.search(r"[A-Za-z]{2,}", re.sub(r"\{\w+\}", "", m))]
    assert latin_only == ["beat.live"]


def test_every_key_the_page_and_server_use_is_in_the_catalogue() -> None:
    used = {k for p in SCRIPTS for k in USED_IN_SCRIPTS.findall(p.read_text(encoding="utf-8"))}
    used |= {k for p in BODIES for k in MARKER.findall(p.read_text(encoding="utf-8")) if not k.startswith("cam.")}
    prefixes = {k.split(".")[0] for k in catalogue("en")}
    python = [p for d in ("streamer", "common", "recorder", "capture", "motion") for p in (REPO / d).rglob("*.py")]
    used |= {k for p in python for k in KEY_IN_PYTHON.findall(p.read_text(encoding="utf-8"))
             if k.split(".")[0] in prefixes and k not in NOT_KEYS}
    assert len(used) > 150
    assert sorted(used - set(catalogue("en"))) == []


@pytest.mark.parametrize("path", BODIES, ids=lambda p: p.name)
def test_page_bodies_write_no_words_of_their_own(path: Path) -> None:
    assert html_words(path, MARKER) == []


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_show_no_words_of_their_own(path: Path) -> None:
    assert script_words(path) == []


def test_the_scan_finds_words_written_into_a_page(tmp_path: Path) -> None:
    body = tmp_path / "x.body.html"
    body.write_text('<h2>{{rec.title}}</h2><p title="Hello">{{a.b}} Statistics</p><b lang="en">English</b>')
    assert [s.text for s in html_words(body, MARKER)] == ["Hello", "{{a.b}} Statistics"]
    script = tmp_path / "x.js"
    script.write_text('"use strict";\nconst a = t("x.y");\nconst b = `Camera ${id} is off`;\n'
                      'el("p", { class: "btn small" }, "Play");\nconst c = { "not connected": 1 }; // "No words"\n'
                      'x.textContent = "MOTION"; y.dataset.state = "LIVE";\n')
    assert [(s.line, s.text) for s in script_words(script)] == [(3, "Camera   is off"), (4, "Play"), (6, "MOTION")]


@pytest.mark.parametrize(("header", "cookie", "lang"), [
    ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", None, "ko"),
    ("en-US,en;q=0.9,ko;q=0.8", None, "en"),
    ("en;q=0.5, ko;q=0.8", None, "ko"),
    ("fr-FR, de;q=0.9, ko;q=0.1", None, "ko"),
    ("fr-FR, de;q=0.9", None, "en"),
    ("ko;q=0, en;q=0.1", None, "en"),
    ("ko;q=oops", None, "en"),
    ("", None, "en"),
    (None, None, "en"),
    ("ko-KR", "en", "en"),
    ("en", "ko", "ko"),
    ("en", "xx", "en"),
    ("\x00\xff" * 500 + ";q=2,,;;=", "../../etc", "en"),   # garbage of any size: English, no error
])
def test_the_language_follows_the_cookie_then_accept_language(header: str | None, cookie: str | None,
                                                              lang: str) -> None:
    assert choose(header, cookie) == lang


def test_messages_fill_their_parameters() -> None:
    assert text("en", "health.not_recording", cam="Camera 1", since="x") == "Camera 1 is NOT recording: x."
    assert text("ko", "camera.default", n=0) == "카메라 0"
    assert text("ko", "no.such.key") == "no.such.key"
    assert text("xx", "camera.default", n=1) == "Camera 1"


def _page_data(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert block is not None
    data: dict = json.loads(block[1])
    return data


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pages_are_served_in_their_language(tmp_path: Path, lang: str) -> None:
    (tmp_path / "sht.toml").write_text("[camera]\nnames = ['Gate']\n")
    cfg = load({"SHT_CONFIG": str(tmp_path / "sht.toml")})
    for name in ("index", "login"):
        html = render(name, lang, cfg)
        assert f'<html lang="{lang}">' in html and "{{" not in html
        assert f"<title>{text(lang, 'app.title' if name == 'index' else 'login.title')}</title>" in html
        data = _page_data(html)
        assert data["lang"] == lang and data["messages"] == catalogue(lang)
        assert data["cameras"] == {"0": "Gate", "1": text(lang, "camera.default", n=1)}
        assert data["utc_offsets"] and all(isinstance(n, int) for pair in data["utc_offsets"] for n in pair)
    assert ">Gate</button>" in render("index", lang, cfg)
    assert (HANGUL.search(render("index", lang, cfg).split("</script>", 1)[1].replace("한국어", "")) is not None) \
        == (lang == "ko")


ERROR_CODE = re.compile(r"(?:error_response\(\s*\d+,\s*|error_body\(\s*|not_found\(\s*|ParamValueError\([^)]*?,\s*)"
                        r"\"([a-z_]+)\"")


def test_every_error_code_the_server_gives_has_its_message() -> None:
    python = [p for d in ("streamer", "common") for p in (REPO / d).rglob("*.py")]
    codes = {c for p in python for c in ERROR_CODE.findall(p.read_text(encoding="utf-8"))}
    codes |= {"viewer_limit", "address_streams", "no_recording", "outside_recordings", "no_thumbnail"}  # by name
    assert len(codes) > 30
    assert sorted(c for c in codes if f"error.{c}" not in catalogue("en")) == []


NOTE_ERROR = re.compile(r"note_error\((?:[^()]|\([^()]*\))*?,\s*\"([a-z_]+)\"\)", re.S)


def test_every_recorder_error_code_is_said_in_both_languages_and_on_the_page() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "recorder").rglob("*.py"))
    codes = set(NOTE_ERROR.findall(source)) | {"failed"}   # failed: note_error's default
    assert {"write", "short_segment", "lost_segment", "disk_absent"} <= codes
    panels = (STATIC_DIR / "panels.js").read_text(encoding="utf-8")
    table = panels.split("const REC_ERRORS = {", 1)[1].split("};", 1)[0]
    for code in sorted(codes):
        assert f"{code}: (detail) => t(\"recerror.{code}\"" in table, code
        assert f"recerror.{code}" in catalogue("en"), code
        assert HANGUL.search(text("ko", f"recerror.{code}", detail="x")), code


@pytest.fixture
def client(tmp_path: Path):
    from streamer.app import create_app
    from tests.support.asgi_client import local_client
    from tests.support.procs import isolated_env
    return local_client(create_app(load(isolated_env(tmp_path / "sht"))), 5000, follow_redirects=False)


def test_api_errors_keep_an_english_code_beside_the_text_in_the_asked_language(client) -> None:
    en = client.get("/api/recordings?camera=7")
    ko = client.get("/api/recordings?camera=7", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert en.status_code == ko.status_code == 400
    assert en.json()["code"] == ko.json()["code"] == "bad_value"
    assert en.json()["error"] == "invalid camera '7': allowed values are 0, 1"
    assert ko.json()["error"].startswith("camera 값 '7'") and HANGUL.search(ko.json()["error"])
    assert (ko.headers["content-language"], en.headers["content-language"]) == ("ko", "en")
    assert "Accept-Language" in ko.headers["vary"]
    gone = client.get("/recordings/cam0/261204/cam0_20261204_140000.mp4", headers={"Cookie": "lang=ko"})
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    assert gone.json()["reason_code"] == "no_recording" and gone.json()["reason"] == "그런 녹화 파일이 없습니다"
    late = client.get("/api/export?camera=0&from=2026-12-04T14:00:00&to=2026-12-04T13:00:00",
                      headers={"Accept-Language": "ko"})
    assert late.json()["code"] == "to_before_from" and late.json()["error"] == text("ko", "error.to_before_from")


def test_the_page_is_served_in_the_asked_language(client) -> None:
    for headers, lang in (({"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8"}, "ko"), ({}, "en"),
                          ({"Accept-Language": "ko", "Cookie": "lang=en"}, "en")):
        r = client.get("/", headers=headers)
        assert r.status_code == 200 and r.headers["content-language"] == lang
        assert r.headers["vary"] == "Accept-Language, Cookie, Save-Data"
        assert f'<html lang="{lang}">' in r.text


def test_health_says_its_reasons_in_english_and_in_the_asked_language(tmp_path: Path) -> None:
    from common.archive.index import ArchiveIndex
    from common.state.board import StatusBoard
    from common.state.controls import Controls
    from streamer.archive.health import health
    from tests.support.procs import isolated_env

    cfg = load(isolated_env(tmp_path / "sht"))
    index = ArchiveIndex(cfg.recordings_root)
    try:
        h = health(cfg, index, StatusBoard.for_config(cfg), Controls(cfg.run_dir), lang="ko",
                   captures={1: ("not connected", "camera 1 not connected (libcamera lists 1 camera)")},
                   capture_codes={1: "absent"})
    finally:
        index.close()
    cam1 = h["cameras"]["1"]
    assert cam1["reasons"][0] == "camera 1: not connected: camera 1 not connected (libcamera lists 1 camera)"
    assert cam1["reasons_text"][0] == "카메라 1: 연결 안 됨 (카메라가 연결되어 있지 않습니다. 케이블을 확인하세요)"
    assert "camera 0: no segment finished yet (recorder not running)" in h["reasons"]
    assert "카메라 0: 아직 완성된 녹화 파일이 없습니다 (녹화 프로그램: 꺼져 있음)" in h["reasons_text"]
    assert len(h["reasons"]) == len(h["reasons_text"]) and not any(HANGUL.search(r) for r in h["reasons"])


def test_a_gap_cause_has_a_code_and_its_words_in_both_languages() -> None:
    from common.archive.gaplog import cause_fields, cause_of

    events = [{"at": 100.0, "event": "recording paused", "by": "boss"},
              {"at": 500.0, "event": "write error", "error": "No space left on device"}]
    assert cause_fields(events, 99, 160, "ko") == {"cause": "paused by boss", "cause_code": "paused_by",
                                                   "cause_text": "boss님이 일시정지"}
    assert cause_fields(events, 498, 530, "ko")["cause_text"] == "저장 오류"
    assert cause_of(events, 498, 530) == "write error (No space left on device)"
    assert cause_fields(events, 1000, 1100) == {"cause": "", "cause_code": None, "cause_text": ""}


def test_a_retention_fault_is_said_plainly_in_korean_and_in_the_recorders_words_in_english(tmp_path: Path) -> None:
    import time

    from streamer.archive.health import camera_health
    from tests.support.procs import isolated_env

    cfg = load(isolated_env(tmp_path / "sht"))
    doc = {"state": "recording", "age_s": 0.5, "retention_code": "window",
           "retention_state": "the disk holds only 3.0 h of both cameras; recorder.keep_continuous_hours = 24"}
    h = camera_health(cfg, 0, [], doc, True, time.time(), lang="ko")
    assert "camera 0: retention the disk holds only 3.0 h of both cameras; recorder.keep_continuous_hours = 24" \
        in h["reasons"]
    said = "카메라 0: 오래된 녹화 정리 문제 (디스크가 보관하기로 한 시간만큼의 녹화를 담지 못합니다)"
    assert said in h["reasons_text"]
    assert h["retention"]["code"] == "window"


def test_a_camera_name_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    (tmp_path / "sht.toml").write_text("[camera]\nnames = ['</script><b>x', 'A & \"B\"']\n")
    html = render("index", "en", load({"SHT_CONFIG": str(tmp_path / "sht.toml")}))
    assert "</script><b>x" not in html and "<b>x" not in html
    assert ">&lt;/script&gt;&lt;b&gt;x</button>" in html and ">A &amp; &quot;B&quot;</button>" in html
    assert _page_data(html)["cameras"]["0"] == "</script><b>x"
