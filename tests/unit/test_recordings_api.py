"""Recordings API: listing, durations, gaps, Range, and refusal of every path outside the root.

The router runs in a real uvicorn server (in a thread) so that requests reach it with
their raw paths (``..``, ``%2e``), exactly as a hostile client would send them.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import av
import pytest
import uvicorn
from fastapi import FastAPI

import streamer.archive.recordings as recordings
from common.archive import segment_name
from common.archive.index import ArchiveIndex
from common.archive.mp4_duration import mp4_duration
from common.config import load
from recorder.segments.writer import finalise
from tests.support.archive import oldest_first
from tests.support.mp4_files import write_mp4, write_segment
from tests.support.procs import free_port, isolated_env, wait_until

DAY = datetime(2026, 11, 26)
DAY_NAME = "261126"


class Server:
    def __init__(self, root: Path, tmp: Path) -> None:
        env = isolated_env(tmp / "sht", recorder__root=str(root))
        app = FastAPI()
        app.state.cfg = load(env)
        app.include_router(recordings.router)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, 20)

    def request(self, path: str, method: str = "GET", headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], bytes]:
        """Sends ``path`` byte for byte: no client-side normalisation of ``..`` or escapes."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def json(self, path: str) -> tuple[int, dict]:
        status, _, body = self.request(path)
        return status, json.loads(body)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, Path]]:
    """A recordings root with three segments (one 6 s gap), decoys, and a secret outside it."""
    tmp = tmp_path_factory.mktemp("rec")
    root = tmp / "root"
    write_segment(root, 0, DAY.replace(hour=10), 2.0)
    write_segment(root, 0, DAY.replace(hour=10, second=2), 2.0)
    write_segment(root, 0, DAY.replace(hour=10, second=10), 3.0, fragmented=False)
    write_segment(root, 1, DAY.replace(hour=9, minute=30), 2.0)
    write_segment(root, 0, datetime(2026, 11, 25, 23, 59, 0), 1.0)
    day0 = root / "cam0" / DAY_NAME
    (day0 / ".cam0_20261126_100014.mp4.part").write_bytes(b"being written")
    (day0 / "notes.txt").write_text("not a segment")
    shutil.copy(day0 / "cam0_20261126_100000.mp4", day0 / "cam1_20261126_100000.mp4")
    (root / "cam0" / "261127").mkdir()  # a day folder with nothing finished in it
    secret = tmp / "secret.mp4"
    secret.write_bytes(b"SECRET-OUTSIDE-THE-ROOT")
    os.symlink(secret, day0 / "cam0_20261126_120000.mp4")
    server = Server(root, tmp)
    try:
        yield server, root, secret
    finally:
        server.close()


def test_segments_sorted_with_duration_size_start_and_gaps(library: tuple[Server, Path, Path]) -> None:
    server, root, _ = library
    status, doc = server.json(f"/api/recordings?camera=0&date={DAY_NAME}")
    assert status == 200
    files = [s["file"] for s in doc["segments"]]
    # Sorted by time; decoys (.part, text, other camera's name, symlink out of root) excluded.
    assert files == ["cam0_20261126_100000.mp4", "cam0_20261126_100002.mp4", "cam0_20261126_100010.mp4"]
    first, second, third = doc["segments"]
    assert first["start"] == "2026-11-26T10:00:00" and first["start_s"] == 36000
    assert first["duration_s"] == pytest.approx(2.0, abs=0.05)
    assert third["duration_s"] == pytest.approx(3.0, abs=0.05)  # plain (non-fragmented) MP4
    assert first["size_bytes"] == (root / "cam0" / DAY_NAME / files[0]).stat().st_size
    assert first["url"] == f"/recordings/cam0/{DAY_NAME}/{files[0]}"
    assert second["start_epoch"] - first["start_epoch"] == 2
    # 10:00:02 + 2 s ends at 10:00:04; next starts 10:00:10: one 6 s gap, none between the first two.
    assert doc["gaps"] == [{"start_s": pytest.approx(36004, abs=0.05), "end_s": pytest.approx(36010, abs=0.05),
                            "duration_s": pytest.approx(6, abs=0.05), "cause": "", "cause_code": None,
                            "cause_text": ""}]   # no event explains it
    assert doc["recorded_s"] == pytest.approx(7.0, abs=0.1)
    assert doc["total_bytes"] == sum(s["size_bytes"] for s in doc["segments"])


def test_days_listed_per_camera_and_latest_day_is_the_default(library: tuple[Server, Path, Path]) -> None:
    server, _, _ = library
    status, doc = server.json("/api/recordings/days")
    assert status == 200
    assert [d["date"] for d in doc["cameras"]["0"]] == ["261125", DAY_NAME]  # empty 261127 left out
    assert doc["cameras"]["0"][1]["segments"] == 3
    assert [d["date"] for d in doc["cameras"]["1"]] == [DAY_NAME]
    status, doc = server.json("/api/recordings?camera=0")
    assert status == 200 and doc["date"] == DAY_NAME and len(doc["segments"]) == 3
    assert [d["date"] for d in doc["days"]] == ["261125", DAY_NAME]
    status, doc = server.json("/api/recordings?camera=1&date=261125")
    assert status == 200 and doc["segments"] == [] and doc["gaps"] == []


@pytest.mark.parametrize("query, field", [
    ("camera=2", "camera"), ("camera=-1", "camera"), ("camera=abc", "camera"), ("", "camera"),
    ("camera=0&date=2611", "date"), ("camera=0&date=261340", "date"), ("camera=0&date=26-11-26", "date"),
    ("camera=0&date=../../x", "date"), ("camera=0&date=261126%0A", "date"), ("camera=0%0A", "camera"),
])
def test_bad_camera_or_date_is_400_naming_the_field(library: tuple[Server, Path, Path], query: str,
                                                     field: str) -> None:
    server, _, _ = library
    status, doc = server.json(f"/api/recordings?{query}")
    assert status == 400
    assert doc["field"] == field and doc["allowed"] and field in doc["error"]
    if field == "camera":
        assert doc["allowed"] == ["0", "1"]


def test_file_is_served_whole_and_by_range(library: tuple[Server, Path, Path]) -> None:
    server, root, _ = library
    path = root / "cam0" / DAY_NAME / "cam0_20261126_100000.mp4"
    data = path.read_bytes()
    url = f"/recordings/cam0/{DAY_NAME}/{path.name}"
    status, headers, body = server.request(url)
    assert status == 200 and body == data and headers["content-type"] == "video/mp4"
    assert headers.get("accept-ranges") == "bytes"
    status, headers, body = server.request(url, headers={"Range": "bytes=100-299"})
    assert status == 206 and body == data[100:300]
    assert headers["content-range"] == f"bytes 100-299/{len(data)}"
    status, headers, body = server.request(url, headers={"Range": "bytes=-50"})
    assert status == 206 and body == data[-50:]
    status, headers, body = server.request(url, method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) == len(data)
    status, headers, _ = server.request(url + "?download=1")
    assert status == 200 and headers["content-disposition"].startswith("attachment")


def test_a_segment_with_a_collision_suffix_is_listed_served_downloaded_and_counted(tmp_path: Path) -> None:
    """The recorder names a segment ``..._1.mp4`` when its name and every later second of the day are taken."""
    root = tmp_path / "root"
    first = write_segment(root, 0, DAY.replace(hour=23, minute=59, second=59), 1.0)
    part = first.with_name(segment_name.part_name(first.name))   # as the recorder writes it
    write_mp4(part, 2.0)
    suffixed = finalise(part, first)
    assert suffixed.name == "cam0_20261126_235959_1.mp4"
    data = suffixed.read_bytes()
    server = Server(root, tmp_path)
    try:
        status, doc = server.json(f"/api/recordings?camera=0&date={DAY_NAME}")
        assert status == 200 and [s["file"] for s in doc["segments"]] == [first.name, suffixed.name]
        seg = doc["segments"][1]
        assert seg["url"] == f"/recordings/cam0/{DAY_NAME}/{suffixed.name}" and seg["size_bytes"] == len(data)
        assert seg["start"] == "2026-11-26T23:59:59" and seg["duration_s"] == pytest.approx(2.0, abs=0.05)
        status, days = server.json("/api/recordings/days")
        assert days["cameras"]["0"] == [{"date": DAY_NAME, "segments": 2,
                                         "bytes": first.stat().st_size + len(data)}]
        status, headers, body = server.request(seg["url"])
        assert status == 200 and body == data and headers["content-type"] == "video/mp4"
        status, headers, body = server.request(seg["url"], headers={"Range": "bytes=100-1099"})
        assert status == 206 and body == data[100:1100]
        assert headers["content-range"] == f"bytes 100-1099/{len(data)}"
        status, headers, body = server.request(seg["url"] + "?download=1")
        assert status == 200 and body == data
        disposition = headers["content-disposition"]
        assert disposition.startswith("attachment") and suffixed.name in disposition
    finally:
        server.close()
    played = tmp_path / "downloaded.mp4"
    played.write_bytes(body)
    with av.open(str(played)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 60   # 2 s at 30 fps, every frame decodes
    # Retention sees the same files the page lists.
    assert [r.name for r in oldest_first(root)] == [first.name, suffixed.name]


@pytest.mark.parametrize("path", [
    "/recordings/../secret.mp4",
    "/recordings/cam0/../../secret.mp4",
    f"/recordings/cam0/{DAY_NAME}/../../../secret.mp4",
    "/recordings/%2e%2e/secret.mp4",
    "/recordings/cam0/%2e%2e%2f%2e%2e%2fsecret.mp4",
    f"/recordings/cam0/{DAY_NAME}/..%2f..%2f..%2fsecret.mp4",
    "/recordings/%252e%252e/secret.mp4",
    "/recordings//etc/passwd",
    "/recordings/%2fetc%2fpasswd",
    f"/recordings/cam0/{DAY_NAME}/cam0_20261126_120000.mp4",  # symlink leaving the root
    f"/recordings/cam0/{DAY_NAME}/.cam0_20261126_100014.mp4.part",  # still being written
    f"/recordings/cam0/{DAY_NAME}/notes.txt",
    f"/recordings/cam0/{DAY_NAME}/cam1_20261126_100000.mp4",  # another camera's name
    f"/recordings/cam0/{DAY_NAME}/cam0_20261126_235959.mp4",  # well-formed, absent
    f"/recordings/cam0/{DAY_NAME}/cam0_20261126_100000.mp4%0A",
    "/recordings/",
])
def test_paths_outside_the_root_or_not_segments_are_404_and_never_opened(
        library: tuple[Server, Path, Path], path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server, _, secret = library
    served: list[object] = []

    def spy(*args: object, **kw: object) -> object:
        served.append(args)
        raise AssertionError("a refused path reached the file response")

    monkeypatch.setattr(recordings, "FileResponse", spy)
    status, _headers, body = server.request(path)
    assert status == 404, (path, body)
    doc = json.loads(body)
    assert doc["error"] == "not found" and doc["reason"]
    assert b"SECRET" not in body and served == []
    assert secret.read_bytes() == b"SECRET-OUTSIDE-THE-ROOT"


def test_duration_of_truncated_and_garbage_files(tmp_path: Path) -> None:
    full = write_mp4(tmp_path / "full.mp4", 3.0)
    assert mp4_duration(full) == pytest.approx(3.0, abs=0.05)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # what a crash mid-segment leaves
    got = mp4_duration(cut)
    assert got is not None and 0 < got < 3.0
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(5000))
    assert mp4_duration(junk) is None
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert mp4_duration(empty) is None


def test_a_duration_is_read_from_its_file_once_and_kept_in_the_index(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import common.archive.index as archive

    root = tmp_path / "rec"
    for i in range(3):
        write_segment(root, 0, DAY.replace(hour=1, minute=i), 1.0 + i, fps=10)
    reads: list[object] = []
    real = archive.mp4_duration
    monkeypatch.setattr(archive, "mp4_duration", lambda path: reads.append(path) or real(path))
    index = ArchiveIndex(root)
    index.refresh()   # found on the disk, without a row: the duration is read when first asked for
    assert reads == []
    assert [r.duration for r in index.day(0, DAY_NAME)] == pytest.approx([1.0, 2.0, 3.0], abs=0.15)
    assert len(reads) == 3
    other = ArchiveIndex(root)   # another process: the durations were kept
    assert [r.duration for r in other.day(0, DAY_NAME)] == pytest.approx([1.0, 2.0, 3.0], abs=0.15)
    assert len(reads) == 3


def test_days_follow_new_and_deleted_segments(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    index = ArchiveIndex(root)

    def days() -> list[dict]:
        index.refresh()
        return recordings.list_days(index, 0)

    first = write_segment(root, 0, DAY.replace(hour=1), 1.0)
    assert [(d["date"], d["segments"]) for d in days()] == [(DAY_NAME, 1)]
    second = write_segment(root, 0, DAY.replace(hour=2), 1.0)
    found = days()
    assert found[0]["segments"] == 2 and found[0]["bytes"] == first.stat().st_size + second.stat().st_size
    first.unlink()
    second.unlink()  # retention emptied the day: it is no longer listed
    assert days() == []


def test_duration_from_the_index_matches_the_walk_over_every_fragment(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import common.archive.mp4_duration as boxes

    full = write_mp4(tmp_path / "full.mp4", 4.0, fps=10)  # a fragment a second, then the mfra index
    data = full.read_bytes()
    mfra_size = int.from_bytes(data[-4:], "big")
    assert data[-12:-8] == b"mfro" and data[-mfra_size + 4:-mfra_size + 8] == b"mfra"
    walked = tmp_path / "no_index.mp4"
    walked.write_bytes(data[:-mfra_size])
    reads: list[int] = []
    real = boxes._fragment_span
    monkeypatch.setattr(boxes, "_fragment_span", lambda payload, movie: reads.append(1) or real(payload, movie))
    assert mp4_duration(full) == pytest.approx(4.0, abs=0.01)
    assert len(reads) == 2  # first and last fragment only
    reads.clear()
    assert mp4_duration(walked) == pytest.approx(4.0, abs=0.01)
    assert len(reads) >= 4  # every fragment
