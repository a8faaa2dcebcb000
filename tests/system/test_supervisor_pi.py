"""Pi layouts under a real supervisord: the rpicam-vid engine, and a camera stack that cannot work.

Nothing may restart in a loop: with ``recorder.engine = "rpicam-vid"`` the capture programs
idle and say why; a picamera2 that cannot be imported stops the capture programs with exit
code 2, which supervisord leaves EXITED, and the page shows the reason.
"""
from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.browser import chromium, chromium_path, open_page
from tests.support.install import make_install, start_daemon, stop_daemon
from tests.support.procs import REPO, wait_until

FAKE_RPICAM = REPO / "tests" / "fakes" / "rpicam-vid"


def read_status(port: int) -> dict | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=2).json()
    except httpx.HTTPError:
        return None   # RUNNING for supervisord before it listens


def page_shows(port: int, camera: str, text: str) -> None:
    """The page names the camera's state in the camera notes and on the stage of its view."""
    if chromium_path() is None:
        return   # test_browser.py fails the run without Chromium when SHT_REQUIRE_BROWSER=1
    with chromium() as browser:
        page, log = open_page(browser, f"http://127.0.0.1:{port}/?view={camera}&res=480p")
        note = f"document.querySelector('#cam-notes [data-camera=\"{camera}\"]')?.textContent || ''"
        page.wait_for_function(f"() => ({note}).includes({text!r})", timeout=15000)
        page.wait_for_function(f"() => document.getElementById('stage-detail').textContent.includes({text!r})",
                               timeout=15000)
        assert log.page_errors == [], log.page_errors


def test_rpicam_vid_engine_idles_capture_and_records_without_restarts(tmp_path: Path) -> None:
    inst = make_install(tmp_path, f'engine = "rpicam-vid"\nrpicam_vid = "{FAKE_RPICAM}"\n')
    try:
        start_daemon(inst)
        running = wait_until(inst.all_running, 15, 0.3)
        status = wait_until(lambda: (s := read_status(inst.port)) and all(
            s["cameras"][c]["state"] == "off" for c in "01") and s, 20, 0.3)
        for cam in "01":
            assert status["cameras"][cam]["reason"].startswith("live view off: camera recorded by rpicam-vid")
        wait_until(lambda: inst.recordings(0) and inst.recordings(1), 40, 0.5)
        page_shows(inst.port, "1", "live view off: camera recorded by rpicam-vid")
        assert inst.status() == running, "a program restarted"
        log = (inst.root / "logs" / "capture_cam0.log").read_text()
        assert log.count("not opening the camera") == 1 and "Traceback" not in log
    finally:
        stop_daemon(inst)


def test_a_broken_picamera2_stops_capture_once_and_the_page_says_why(tmp_path: Path) -> None:
    inst = make_install(tmp_path)
    broken = tmp_path / "broken" / "picamera2"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'libcamera'\")\n")
    inst.env["PYTHONPATH"] = str(broken.parent)
    try:
        start_daemon(inst)
        wait_until(lambda: all(inst.status().get(f"capture_cam{c}", ("",))[0] == "EXITED" for c in (0, 1)), 20, 0.3)
        status = wait_until(lambda: (s := read_status(inst.port)) and s["cameras"]["0"]["state"] == "error" and s,
                            20, 0.3)
        reason = status["cameras"]["0"]["reason"]
        assert "picamera2 is installed but cannot be imported: ModuleNotFoundError: No module named 'libcamera'" \
            in reason
        page_shows(inst.port, "0", "cannot be imported")
        time.sleep(2.0)
        st = inst.status()
        assert st["capture_cam0"][0] == st["capture_cam1"][0] == "EXITED", st   # not restarted in a loop
        assert st["rec_cam0"][0] == st["streamer"][0] == "RUNNING"
        log = (inst.root / "logs" / "capture_cam0.log").read_text()
        assert log.count("cannot be imported") == 1 and "Traceback" not in log
    finally:
        stop_daemon(inst)
