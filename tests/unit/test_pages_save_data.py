"""The page tells its scripts whether the browser asked to save data (a phone's low-data default)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from common.config import load

DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)


def _page_data(tmp_path: Path, headers: dict[str, str]) -> tuple[dict, str]:
    from streamer.app import create_app
    from tests.support.asgi_client import local_client
    from tests.support.procs import isolated_env
    client = local_client(create_app(load(isolated_env(tmp_path / "sht"))), 5000, follow_redirects=False)
    r = client.get("/", headers=headers)
    assert r.status_code == 200
    m = DATA.search(r.text)
    assert m is not None
    return json.loads(m[1]), r.headers["vary"]


def test_save_data_on_is_passed_to_the_page(tmp_path: Path) -> None:
    data, vary = _page_data(tmp_path, {"Save-Data": "on"})
    assert data["save_data"] is True
    assert "Save-Data" in vary   # a cache keeps the two pages apart


def test_without_save_data_or_with_another_value_it_is_off(tmp_path: Path) -> None:
    assert _page_data(tmp_path, {})[0]["save_data"] is False
    assert _page_data(tmp_path, {"Save-Data": "off"})[0]["save_data"] is False
