"""Events API: listing by camera and day, one event, its thumbnail, the live state, and 400s."""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common.archive import events as store
from common.config import load
from common.state.live_picture import LivePictures
from streamer.archive.events import router
from tests.support.mp4_files import write_segment
from tests.support.procs import isolated_env, status_board

DAY = datetime(2026, 11, 26)


@pytest.fixture
def api(tmp_path: Path) -> tuple[TestClient, Path, dict]:
    env = isolated_env(tmp_path / "sht")
    cfg = load(env)
    app = FastAPI()
    app.state.cfg = cfg
    app.include_router(router)
    return TestClient(app), cfg.recordings_root, env


def _fill(root: Path) -> dict[str, int]:
    write_segment(root, 0, DAY.replace(hour=10), 2.0)
    write_segment(root, 0, DAY.replace(hour=10, second=2), 2.0)
    s = store.EventStore(store.db_path(root))
    t = DAY.replace(hour=10).timestamp()
    a = s.open_event(0, t + 3.5, 1.0, 1.0, 2.0, (10, 20, 5, 30), t + 3.6)
    s.close_event(a, t + 6.0, 3.5, "quiet", t + 4.0, 2.0, 2.5, (11, 21, 6, 31), t + 3.8, b"\xff\xd8\xff\xe0thumb")
    b = s.open_event(1, t + 100, 5.0, 1.0, 1.0, None, t + 100)      # still open, other camera
    c = s.open_event(0, t - 86400, 5.0, 1.0, 1.0, None, t - 86400)  # the day before
    s.close()
    return {"a": a, "b": b, "c": c}


def test_list_one_day_newest_first_with_where_to_play(api) -> None:
    client, root, _ = api
    ids = _fill(root)
    r = client.get("/api/events?camera=0&date=261126")
    assert r.status_code == 200
    doc = r.json()
    assert [e["id"] for e in doc["events"]] == [ids["a"]]
    ev = doc["events"][0]
    assert ev["start_s"] == 36003.5 and ev["duration_s"] == 2.5 and ev["open"] is False
    assert ev["bbox_percent"] == [11, 21, 6, 31] and ev["peak_area_percent"] == 2.5
    # The event starts at 10:00:03.5; less the 1 s pre-roll: 2.5 s into 10:00:00 is in
    # the second segment (10:00:02, 2 s long), 0.5 s in.
    assert ev["play"] == {"file": "cam0_20261126_100002.mp4",
                          "url": "/recordings/cam0/261126/cam0_20261126_100002.mp4", "offset_s": 0.5}
    both = client.get("/api/events?date=261126").json()["events"]
    assert [e["id"] for e in both] == [ids["b"], ids["a"]] and both[0]["open"] is True
    assert both[0]["play"] is None  # nothing recorded on camera 1
    assert client.get("/api/events?camera=0&date=261125").json()["events"][0]["id"] == ids["c"]


def test_one_event_and_its_thumbnail(api) -> None:
    client, root, _ = api
    ids = _fill(root)
    r = client.get(f"/api/events/{ids['a']}")
    assert r.status_code == 200 and r.json()["thumbnail"].startswith(f"/api/events/{ids['a']}/thumbnail.jpg?v=")
    r = client.get(r.json()["thumbnail"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content.startswith(b"\xff\xd8")
    r = client.get(f"/api/events/{ids['b']}/thumbnail.jpg")
    assert r.status_code == 404 and r.json()["error"] == "not found"
    assert client.get("/api/events/99999").status_code == 404


def test_an_open_event_is_ongoing_only_while_the_motion_process_has_it_open(api) -> None:
    client, root, env = api
    ids = _fill(root)
    start = DAY.replace(hour=10).timestamp() + 100

    def listed(eid: int) -> dict:
        return next(e for e in client.get("/api/events?date=261126").json()["events"] if e["id"] == eid)

    # No motion process: the event was left open by one that died (its next start closes
    # it), so it is not going on, and it lasted until its last motion, not until now.
    ev = listed(ids["b"])
    assert ev["open"] is True and ev["ongoing"] is False and ev["duration_s"] == 0.0
    board = status_board(env)
    board.publish("motion", {"pid": 123, "cameras": {"0": {"open": False, "event_id": None},
                                                     "1": {"open": True, "event_id": ids["b"]}}})
    ev = listed(ids["b"])
    assert ev["ongoing"] is True and ev["duration_s"] >= time.time() - start - 1.0
    assert client.get(f"/api/events/{ids['b']}").json()["ongoing"] is True
    assert listed(ids["a"])["ongoing"] is False          # closed
    # Another event open on that camera: this one is not the one going on.
    board.publish("motion", {"pid": 123, "cameras": {"1": {"open": True, "event_id": ids["b"] + 100}}})
    assert listed(ids["b"])["ongoing"] is False


def test_the_thumbnail_address_changes_with_the_picture(api) -> None:
    """An open event's picture follows its peak, in memory: a browser must not keep the first one."""
    client, root, env = api
    cfg = load(env)
    s = store.EventStore(store.db_path(root))
    t = DAY.replace(hour=11).timestamp()
    eid = s.open_event(0, t, 1.0, 1.0, 2.0, None, t, b"\xff\xd8first")
    board = status_board(env)

    def motion_says(peak_wall: float) -> None:
        board.publish("motion", {"pid": 123, "cameras": {"0": {"open": True, "event_id": eid, "progress": {
            "event_id": eid, "last_wall": t + 1, "last_mono": 2.0, "peak_area": 5.0, "bbox": None,
            "peak_wall": peak_wall}}}})
    motion_says(t)
    first = client.get(f"/api/events/{eid}").json()["thumbnail"]
    assert client.get(first).content == b"\xff\xd8first"
    pictures = LivePictures(cfg.run_dir, cfg.ring.prefix)
    pictures.put(0, eid, b"\xff\xd8peak")                   # a larger peak: its picture in memory
    motion_says(t + 0.5)
    second = client.get(f"/api/events/{eid}").json()["thumbnail"]
    assert second != first and client.get(second).content == b"\xff\xd8peak"
    assert [e["thumbnail"] for e in client.get("/api/events?date=261126").json()["events"]] == [second]
    assert store.get_thumbnail(s.conn, eid) == b"\xff\xd8first"   # the database was not written
    pictures.put(0, eid + 1, b"\xff\xd8other")              # the next event's: not this one's
    assert client.get(second).content == b"\xff\xd8first"
    s.close_event(eid, t + 3, 3.0, "quiet", t + 2, 3.0, 5.0, None, t + 0.5, b"\xff\xd8last")
    pictures.drop(0)
    assert client.get(f"/api/events/{eid}").json()["thumbnail"] == second   # the peak's time, from the database
    assert client.get(second).content == b"\xff\xd8last"
    s.close()


@pytest.mark.parametrize("path, field", [
    ("/api/events?camera=7", "camera"), ("/api/events?camera=x", "camera"),
    ("/api/events?date=2611", "date"), ("/api/events?date=261340", "date"),
    ("/api/events/abc", "id"), ("/api/events/-1", "id"), ("/api/events/0", "id"),
    ("/api/events/99999999999999999999999", "id"), ("/api/events/%C2%B2", "id"),
    ("/api/events/1e3/thumbnail.jpg", "id"),
])
def test_bad_parameters_get_400_naming_the_field(api, path: str, field: str) -> None:
    client, root, _ = api
    _fill(root)
    r = client.get(path)
    assert r.status_code == 400, r.text
    doc = r.json()
    assert doc["field"] == field and doc["error"] and "allowed" in doc


def test_no_database_is_an_empty_list_not_an_error(api) -> None:
    client, _, _ = api
    assert client.get("/api/events?camera=0").json()["events"] == []
    assert client.get("/api/events/1").status_code == 404


def test_live_state_follows_the_motion_status(api) -> None:
    client, _, env = api
    assert client.get("/api/events/live").json() == {
        "running": False, "enabled": True, "cameras": {"0": {"open": False, "event_id": None},
                                                       "1": {"open": False, "event_id": None}}}
    board = status_board(env)
    board.publish("motion", {"pid": 123, "cameras": {"0": {"open": True, "event_id": 4}, "1": {"open": False}}})
    doc = client.get("/api/events/live").json()
    assert doc["running"] is True and doc["cameras"]["0"] == {"open": True, "event_id": 4}
    assert doc["cameras"]["1"]["open"] is False


def test_live_state_of_a_hand_edited_motion_status(api) -> None:
    """Values of the wrong type are left out of the answer, not passed on as they are."""
    client, _, env = api
    board = status_board(env)
    board.publish("motion", {"pid": 123, "cameras": {"0": {"open": True, "event_id": "4"}, "1": ["open"]}})
    doc = client.get("/api/events/live").json()
    assert doc["running"] is True
    assert doc["cameras"] == {"0": {"open": True, "event_id": None}, "1": {"open": False, "event_id": None}}
    board.publish("motion", {"pid": "123", "cameras": "all"})
    assert client.get("/api/events/live").json()["running"] is False


def test_an_open_events_picture_in_memory_only_is_listed(api) -> None:
    """The database gets an event's picture when it ends: while it is open the list points at
    the one in memory, and an open event with none (a power cut took it) is listed without."""
    client, root, env = api
    cfg = load(env)
    s = store.EventStore(store.db_path(root))
    t = DAY.replace(hour=12).timestamp()
    eid = s.open_event(0, t, 1.0, 1.0, 2.0, None, t)
    s.close()
    assert client.get(f"/api/events/{eid}").json()["thumbnail"] is None
    LivePictures(cfg.run_dir, cfg.ring.prefix).put(0, eid, b"\xff\xd8open")
    url = client.get(f"/api/events/{eid}").json()["thumbnail"]
    assert url is not None and client.get(url).content == b"\xff\xd8open"
    assert [e["thumbnail"] for e in client.get("/api/events?date=261126").json()["events"]] == [url]
