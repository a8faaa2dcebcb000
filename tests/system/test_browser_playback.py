"""A finished segment file plays and seeks in Chromium (served with HTTP Range)."""

from __future__ import annotations

import functools
import http.server
import io
import os
import threading
from pathlib import Path

import pytest

from tests.support.browser import Browser, require_chromium
from tests.support.encoding import PERIOD_NS, W, write


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges, which a browser needs to seek in an MP4."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        spec = self.headers.get("Range")
        if not spec or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        first, _, last = spec.split("=", 1)[1].partition("-")
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
        with open(path, "rb") as fh:
            fh.seek(start)
            body = fh.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


def test_a_finished_segment_plays_and_seeks_in_chromium(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    require_chromium()   # skips without Chromium; fails instead under SHT_REQUIRE_BROWSER=1
    browser: Browser = request.getfixturevalue("browser")
    write(tmp_path / "seg.mp4", [int(n * PERIOD_NS) for n in range(90)])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_RangeHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/seg.mp4"
    try:
        page, _ = browser.page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        result = page.evaluate("""(src) => new Promise(done => {
            const v = document.createElement('video');
            v.muted = true;
            v.onerror = () => done({error: v.error ? v.error.message || v.error.code : 'error'});
            v.onloadedmetadata = () => {
                const duration = v.duration;
                v.onseeked = () => done({duration, at: v.currentTime, width: v.videoWidth,
                                         seekable: v.seekable.length ? v.seekable.end(0) : 0});
                v.currentTime = 2.0;
            };
            setTimeout(() => done({timeout: v.readyState}), 20000);
            document.body.appendChild(v);
            v.src = src;
        })""", url)
    finally:
        server.shutdown()
    assert "error" not in result and "timeout" not in result, result
    assert abs(result["duration"] - 3.0) < 0.05 and result["width"] == W
    assert abs(result["at"] - 2.0) < 0.05 and result["seekable"] > 2.9
