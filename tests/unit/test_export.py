"""Exports: a time range of the recordings as one MP4 joined from the segments without encoding.

Segments are real H.264 files in the recorder's layout (5 fps, a keyframe a second, small
pictures so that decoding every frame of the output is quick); the export route runs in the
app's router with the access middleware where roles matter.
"""
from __future__ import annotations

import base64
import io
import math
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import av
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common.config import Config, load
from streamer import auth
from streamer.archive.export import router as export_router
from streamer.archive.join import Joined, Piece, join
from streamer.archive.slots import ExportSlots
from streamer.auth.accounts import Users
from tests.support.asgi_client import local_client
from tests.support.mp4_files import segment_path, write_mp4, write_segment
from tests.support.procs import isolated_env

FPS = 5
SMALL = {"width": 160, "height": 120}   # small pictures at a low rate: quick to make and to decode
T0 = datetime(2026, 12, 4, 14, 2, 0)          # four 30 s segments of camera 0 from here
GAP_DAY = datetime(2026, 12, 5, 14, 2, 0)     # the same, with the third one missing
RANGE = "from=2026-12-04T14:02:10&to=2026-12-04T14:03:40"


def _at(start: datetime, seconds: float) -> datetime:
    return start + timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export") / "rec"
    for k in range(4):
        write_segment(root, 0, _at(T0, 30 * k), 30.0, fps=FPS, **SMALL)
        write_segment(root, 1, _at(T0, 30 * k), 30.0, fps=FPS, **SMALL)
        if k != 2:
            write_segment(root, 0, _at(GAP_DAY, 30 * k), 30.0, fps=FPS, **SMALL)
    return root


def make_cfg(root: Path, tmp: Path, **overrides: object) -> Config:
    return load(isolated_env(tmp / "sht", recorder__root=str(root), **overrides))


def client(cfg: Config, access: bool = False) -> TestClient:
    app = FastAPI()
    app.state.cfg = cfg
    app.include_router(export_router)
    if access:
        app.add_middleware(auth.AccessControl, guard=auth.Guard(cfg))
    return local_client(app, 40000)


def frames_of(data: bytes) -> list[float]:
    """Every picture of an MP4 decoded: their times in seconds."""
    with av.open(io.BytesIO(data)) as container:
        return [float(f.time) for f in container.decode(container.streams.video[0])]


def source_packets(root: Path, camera: int, start: datetime, end: datetime) -> list[bytes]:
    """The packets of the segments whose pictures lie in [start, end), in order."""
    found = []
    for k in range(4):
        seg_start = _at(T0, 30 * k)
        with av.open(str(segment_path(root, camera, seg_start))) as c:
            for p in c.demux(c.streams.video[0]):
                if p.size and start <= _at(seg_start, float(p.pts * p.time_base)) < end:
                    found.append(bytes(p))
    return found


def test_a_range_across_four_segments_is_one_mp4_of_the_range_with_every_packet_copied(root: Path,
                                                                                       tmp_path: Path) -> None:
    r = client(make_cfg(root, tmp_path)).get(f"/api/export?camera=0&{RANGE}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    assert r.headers["content-disposition"] == 'attachment; filename="cam0_20261204_140210-140340.mp4"'
    times = frames_of(r.content)
    assert len(times) == 90 * FPS                               # every picture decodes
    assert times[0] == 0.0 and abs(times[-1] + 1 / FPS - 90.0) < 1.0
    with av.open(io.BytesIO(r.content)) as container:
        assert abs(container.duration / 1e6 - 90.0) <= 1.0
        assert "14:02:10" in container.metadata["comment"] and "none" in container.metadata["comment"]
        copied = [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
    # No encoding: the output's packets are the segments' own, byte for byte.
    assert copied == source_packets(root, 0, _at(T0, 10), _at(T0, 100))


def test_a_gap_keeps_its_length_and_is_named_in_the_file(root: Path, tmp_path: Path) -> None:
    r = client(make_cfg(root, tmp_path)).get("/api/export?camera=0&from=2026-12-05T14:02:10&to=2026-12-05T14:03:40")
    assert r.status_code == 200, r.text
    times = frames_of(r.content)
    assert len(times) == (50 + 10) * FPS                        # 14:02:10-14:03:00 and 14:03:30-14:03:40
    after_gap = times[50 * FPS]
    assert abs(after_gap - 80.0) < 0.05, after_gap               # 14:03:30 is 80 s after 14:02:10
    with av.open(io.BytesIO(r.content)) as container:
        assert abs(container.duration / 1e6 - 90.0) <= 1.0
        assert "2026-12-05T14:03:00 to 2026-12-05T14:03:30 (30 s)" in container.metadata["comment"]


def test_both_cameras_come_as_one_zip_of_two_mp4s(root: Path, tmp_path: Path) -> None:
    r = client(make_cfg(root, tmp_path)).get(f"/api/export?camera=both&{RANGE}")
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="cam0-1_20261204_140210-140340.zip"'
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert z.namelist() == ["cam0_20261204_140210-140340.mp4", "cam1_20261204_140210-140340.mp4"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        for name in z.namelist():
            assert len(frames_of(z.read(name))) == 90 * FPS


def test_a_check_says_what_an_export_would_make_and_makes_nothing(root: Path, tmp_path: Path) -> None:
    cfg = make_cfg(root, tmp_path, streamer__max_exports=1)
    held = ExportSlots(cfg.run_dir, 1).take("192.0.2.9")   # every slot taken: a check needs none
    r = client(cfg).get("/api/export?camera=0&from=2026-12-05T14:02:10&to=2026-12-05T14:03:40&check=1")
    assert r.status_code == 200 and r.json() == {"file": "cam0_20261205_140210-140340.mp4",
                                                 "cameras": {"0": {"segments": 3, "recorded_s": 60.0}}}
    assert client(cfg).get("/api/export?camera=0&from=2026-12-04T15:00:00&to=2026-12-04T15:10:00&check=1"
                           ).status_code == 404
    held.close()   # type: ignore[union-attr]


def test_both_cameras_where_only_one_recorded_is_a_zip_of_that_one(root: Path, tmp_path: Path) -> None:
    r = client(make_cfg(root, tmp_path)).get("/api/export?camera=both&from=2026-12-05T14:02:10&to=2026-12-05T14:03:40")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="cam0-1_20261205_140210-140340.zip"'
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert z.namelist() == ["cam0_20261205_140210-140340.mp4"]


def test_refusals_are_json_with_a_reason(root: Path, tmp_path: Path) -> None:
    c = client(make_cfg(root, tmp_path, streamer__export_max_minutes=30))
    nothing = c.get("/api/export?camera=0&from=2026-12-04T15:00:00&to=2026-12-04T15:10:00")
    assert nothing.status_code == 404 and "nothing recorded" in nothing.json()["reason"]
    for query, field in (("camera=0&from=2026-12-04T14:00:00&to=2026-12-04T14:31:00", "to"),   # longer than 30 min
                         ("camera=0&from=2026-12-04T14:03:00&to=2026-12-04T14:02:00", "to"),   # backwards
                         ("camera=0&from=2026-12-04 14:02&to=2026-12-04T14:03:00", "from"),
                         ("camera=0&from=2026-02-30T14:02:00&to=2026-12-04T14:03:00", "from"),
                         ("camera=0&to=2026-12-04T14:03:00", "from"),
                         ("camera=0&from=0001-01-01T00:00&to=0001-01-01T00:30", "from"),       # before the clock
                         ("camera=2&" + RANGE, "camera"),
                         (RANGE, "camera")):
        r = c.get(f"/api/export?{query}")
        assert r.status_code == 400, (query, r.status_code, r.text)
        assert r.json()["field"] == field and r.json()["error"], query
    assert "streamer.export_max_minutes" in c.get(
        "/api/export?camera=0&from=2026-12-04T14:00:00&to=2026-12-04T14:31:00").json()["error"]


def test_one_export_per_address_and_a_few_in_all(root: Path, tmp_path: Path) -> None:
    cfg = make_cfg(root, tmp_path, streamer__max_exports=2)
    c = client(cfg)
    slots = ExportSlots(cfg.run_dir, 2)
    mine = slots.take("127.0.0.1")
    assert not isinstance(mine, str)
    r = c.get(f"/api/export?camera=0&{RANGE}")
    assert r.status_code == 429 and r.json()["reason"] == "per_address" and r.headers["retry-after"]
    mine.close()
    others = [slots.take("192.0.2.1"), slots.take("192.0.2.2")]
    assert not any(isinstance(s, str) for s in others)
    r = c.get(f"/api/export?camera=0&{RANGE}")
    assert r.status_code == 429 and r.json()["setting"] == "streamer.max_exports"
    for s in others:
        s.close()   # type: ignore[union-attr]
    # Each finished export gives its slot back.
    for _ in range(3):
        assert c.get(f"/api/export?camera=0&{RANGE}").status_code == 200
    assert slots.running() == 0


def test_viewers_and_admins_may_export_and_it_is_logged(root: Path, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    cfg = make_cfg(root, tmp_path)
    users = Users(cfg.run_dir)
    users.add("kim", "viewer-pass", "viewer")
    users.add("lee", "admin-pass", "admin")
    c = client(cfg, access=True)
    assert c.get(f"/api/export?camera=0&{RANGE}").status_code == 401
    for name, password in (("kim", "viewer-pass"), ("lee", "admin-pass")):
        basic = base64.b64encode(f"{name}:{password}".encode()).decode()
        with caplog.at_level("INFO", logger="streamer"):
            r = c.get(f"/api/export?camera=0&{RANGE}", headers={"Authorization": f"Basic {basic}"})
        assert r.status_code == 200, (name, r.text)
        assert f"control: export of cam0_20261204_140210-140340.mp4 by {name} from 127.0.0.1" in caplog.text
        assert f"export of cam0_20261204_140210-140340.mp4 sent: {90 * FPS} pictures" in caplog.text


# -- the join itself -------------------------------------------------------------------------------
def _pieces(tmp: Path, starts: list[float], **kw: object) -> list[Piece]:
    made = []
    for i, s in enumerate(starts):
        path = tmp / f"p{i}.mp4"
        write_mp4(path, 4.0, fps=FPS, **{**SMALL, **kw})  # type: ignore[arg-type]
        made.append(Piece(path, s))
    return made


def _joined(pieces: list[Piece], start: float, end: float) -> tuple[bytes, Joined]:
    j = Joined()
    return b"".join(join(pieces, start, end, "test", j)), j


def test_the_output_starts_at_the_keyframe_before_the_start(tmp_path: Path) -> None:
    pieces = _pieces(tmp_path, [1000.5, 1004.5])      # keyframes at .5
    data, j = _joined(pieces, 1002.0, 1007.0)
    assert j.first == 1001.5                          # the keyframe before 1002.0
    assert len(frames_of(data)) == math.ceil((1007.0 - 1001.5) * FPS)   # every picture shown before 1007.0
    assert abs(j.duration - 5.5) <= 1 / FPS


def test_a_start_in_a_gap_starts_at_the_next_picture_and_overlaps_are_written_once(tmp_path: Path) -> None:
    pieces = _pieces(tmp_path, [1000.0, 1010.0, 1012.0])    # a 6 s gap, then two files overlapping by 2 s
    data, j = _joined(pieces, 1005.0, 1020.0)
    assert j.first == 1010.0
    times = frames_of(data)
    assert times == sorted(set(times)) and len(times) == 6 * FPS   # 1010-1016 once each
    assert abs(times[-1] - (6 - 1 / FPS)) < 0.01


def test_a_file_with_other_parameter_sets_still_decodes(tmp_path: Path) -> None:
    first = _pieces(tmp_path / "a", [1000.0])
    other = tmp_path / "b.mp4"
    write_mp4(other, 4.0, fps=FPS, width=96, height=64)        # another encoder's size: other SPS
    data, _ = _joined([*first, Piece(other, 1004.0)], 1000.0, 1008.0)
    with av.open(io.BytesIO(data)) as container:
        sizes = [(f.width, f.height) for f in container.decode(container.streams.video[0])]
    assert len(sizes) == 8 * FPS and sizes[0] == (160, 120) and sizes[-1] == (96, 64)


def test_nothing_in_the_range_yields_nothing(tmp_path: Path) -> None:
    pieces = _pieces(tmp_path, [1000.0])
    data, j = _joined(pieces, 1010.0, 1020.0)
    assert data == b"" and j.frames == 0


@pytest.fixture(autouse=True)
def _no_stray_files(tmp_path: Path) -> Iterator[None]:
    yield
    stray = [p for p in tmp_path.rglob("*") if p.suffix in (".tmp", ".part")]
    assert not stray, stray
