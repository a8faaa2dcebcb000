"""The live streamer against real capture processes on the synthetic source."""
from __future__ import annotations

import socket
import time

import httpx
import numpy as np
import pytest

from common.video.overlay import Label, render_mask, scale_for
from tests.support.multipart import Multipart
from tests.support.procs import wait_until
from tests.support.streamer_client import Reader, read_parts, stalled_viewer

SIZES = {("dual", "480p"): (1280, 480), ("dual", "720p"): (2560, 720), ("0", "480p"): (640, 480),
         ("0", "720p"): (1280, 720), ("1", "480p"): (640, 480), ("1", "720p"): (1280, 720)}


def base(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['SHT__STREAMER__PORT']}"


def head(env: dict[str, str], path: str) -> httpx.Response:
    return httpx.head(base(env) + path, timeout=10)


def start_system(procs, env, cameras=(0, 1), *args: str) -> None:
    for cam in cameras:
        procs.capture(cam)
    procs.start("streamer", "-m", "streamer", *args)

    def up() -> bool:
        try:
            return all(head(env, f"/stream?view={cam}&res=480p").status_code == 200 for cam in cameras)
        except httpx.HTTPError:
            return False
    wait_until(up, 30)


def status(env: dict[str, str]) -> dict:
    return httpx.get(base(env) + "/api/status", timeout=10).json()


def label_score(gray: np.ndarray, text: str, x0: int, y0: int, scale: int | None = None) -> float:
    """Share of pixels of a burned-in label's box that match ``text``'s ink mask."""
    scale = scale or scale_for(gray.shape[0])
    pad = 2 * scale
    mask = render_mask(text, scale)
    h, w = mask.shape
    box = gray[y0 + pad:y0 + pad + h, x0 + pad:x0 + pad + w].astype(int)
    return float(np.mean((box > 128) == mask))


@pytest.fixture
def system(procs, sht_env):
    start_system(procs, sht_env)
    return sht_env


def test_every_view_and_resolution_decodes_with_labels(system, procs):
    for (view, res), (w, h) in SIZES.items():
        code, parts = read_parts(f"{base(system)}/stream?view={view}&res={res}", 3)
        assert code == 200, (view, res)
        indices = []
        for part in parts:
            assert part.headers["content-type"] == "image/jpeg"
            assert int(part.headers["content-length"]) == len(part.jpeg)
            assert abs(float(part.headers["x-timestamp"]) - time.time()) < 5
            gray = part.gray()
            assert gray is not None and gray.shape == (h, w), (view, res, None if gray is None else gray.shape)
            indices.append(part.index)
        assert indices == sorted(indices) and len(set(indices)) == 3
        # Camera names are burned in at the top left of each camera's picture.
        gray = parts[-1].gray()
        cams = [0, 1] if view == "dual" else [int(view)]
        for slot, cam in enumerate(cams):
            margin = 2 * scale_for(h)
            x0 = slot * (w // len(cams)) + margin
            right, wrong = label_score(gray, f"CAM {cam}", x0, margin), label_score(gray, f"CAM {1 - cam}", x0, margin)
            assert right > 0.9 and right > wrong, (view, res, cam, right, wrong)
    # Sizes in the stream's own status agree with the spec's sanity bounds.
    assert all(v["anomalies"] == 0 for v in status(system)["views"])


def test_snapshot_gives_one_jpeg_of_the_view(system):
    r = httpx.get(f"{base(system)}/snapshot?view=dual&res=720p", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    import cv2
    img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (720, 2560, 3)
    assert r.headers["x-cameras-live"] == "0,1"


def test_switching_view_reaches_the_viewer_quickly(system):
    first = Reader(f"{base(system)}/stream?view=dual&res=480p", "127.0.0.2").start()
    try:
        wait_until(lambda: first.parts >= 3, 15)
        for view, res in (("1", "720p"), ("0", "480p"), ("dual", "720p")):
            t0 = time.monotonic()
            code, parts = read_parts(f"{base(system)}/stream?view={view}&res={res}", 1, "127.0.0.2")
            took = time.monotonic() - t0
            assert code == 200 and parts[0].gray().shape == SIZES[(view, res)][::-1]
            assert took < 1.0, (view, res, took)  # the spec's bound; the benchmark reports the usual figure
    finally:
        first.stop()


def test_third_address_is_refused_until_a_slot_frees(system):
    url = f"{base(system)}/stream?view=dual&res=480p"
    a = Reader(url, "127.0.0.2").start()
    b = Reader(url, "127.0.0.3").start()
    a2 = Reader(url.replace("dual", "0"), "127.0.0.2").start()   # same address again: not a new viewer
    try:
        wait_until(lambda: a.parts and b.parts and a2.parts, 15)
        code, _ = read_parts(url, 1, "127.0.0.4")
        assert code == 423
        r = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.4")).get(url)
        body = r.json()
        assert r.status_code == 423 and body["limit"] == 2 and body["holders"] == 2 and body["res"] == "480p"
        assert "limit" in body["error"] and int(r.headers["retry-after"]) > 0
        # The other resolution has its own slots.
        code, parts = read_parts(url.replace("480p", "720p"), 1, "127.0.0.4")
        assert code == 200 and len(parts) == 1
        b.stop()
        closed = time.monotonic()
        wait_until(lambda: read_parts(url, 1, "127.0.0.4")[0] == 200, 10, interval=0.2)
        assert time.monotonic() - closed < 4.0
    finally:
        for reader in (a, b, a2):
            reader.stop()


def test_heartbeat_follows_the_camera_and_the_stream_resumes(system, procs):
    url = f"{base(system)}/stream?view=0&res=480p"
    reader = Reader(url, "127.0.0.2").start()
    try:
        wait_until(lambda: reader.parts >= 3, 15)
        r = head(system, "/stream?view=0&res=480p")
        assert r.status_code == 200 and r.content == b""
        assert r.headers["x-cameras-live"] == "0" and float(r.headers["x-frame-age-ms"]) < 1000
        procs.kill("capture0")
        wait_until(lambda: head(system, "/stream?view=0&res=480p").status_code == 503, 10)
        r = head(system, "/stream?view=0&res=480p")
        assert r.headers["x-cameras-live"] == ""
        # The stream stays open while the camera is away: a NO SIGNAL picture, re-sent every second.
        wait_until(lambda: reader.last and reader.last[-1].index == -1, 5)
        during = reader.parts
        time.sleep(2.5)
        assert reader.parts >= during + 2 and not reader.error
        gray = reader.last[-1].gray()
        assert gray.shape == (480, 640) and np.mean(np.abs(gray.astype(int) - 40) < 6) > 0.8
        restarted = time.time()
        procs.capture(0)
        wait_until(lambda: head(system, "/stream?view=0&res=480p").status_code == 200, 15)
        wait_until(lambda: reader.last and float(reader.last[-1].headers["x-timestamp"]) > restarted, 10)
        assert not reader.error
    finally:
        reader.stop()


def test_dual_view_with_one_camera_dead(procs, sht_env):
    start_system(procs, sht_env, (0,))
    r = head(sht_env, "/stream?view=dual&res=480p")
    assert r.status_code == 200 and r.headers["x-cameras-live"] == "0"
    assert head(sht_env, "/stream?view=1&res=480p").status_code == 503
    code, parts = read_parts(f"{base(sht_env)}/stream?view=dual&res=480p", 6)
    assert code == 200
    first, last = parts[0].gray().astype(int), parts[-1].gray().astype(int)
    # Right half: flat "NO SIGNAL" grey with its text; left half: the live camera, moving.
    right = last[:, 640:]
    assert np.mean(np.abs(right - 40) < 6) > 0.8
    label = Label("CAM 1 NO SIGNAL", scale_for(480) + 1)
    x0, y0 = (640 - label.width) // 2, (480 - label.height) // 2
    x0, y0 = x0 - x0 % 2, y0 - y0 % 2
    score = label_score(right, "CAM 1 NO SIGNAL", x0, y0, scale_for(480) + 1)
    assert score > 0.9 and score > label_score(right, "CAM 0 NO SIGNAL", x0, y0, scale_for(480) + 1)
    assert np.mean(np.abs(first[:, :640] - last[:, :640])) > 1.0
    assert parts[-1].index > parts[0].index


def test_encoder_runs_once_per_frame_for_three_viewers(system):
    url = f"{base(system)}/stream?view=dual&res=480p"
    readers = [Reader(url, src).start() for src in ("127.0.0.2", "127.0.0.2", "127.0.0.3")]
    try:
        wait_until(lambda: all(r.parts >= 5 for r in readers), 15)
        s0 = status(system)
        t0 = time.monotonic()
        counts0 = [r.parts for r in readers]
        time.sleep(3)
        s1 = status(system)
        delivered = [r.parts - c for r, c in zip(readers, counts0)]
        view0 = next(v for v in s0["views"] if (v["view"], v["res"]) == ("dual", "480p"))
        view1 = next(v for v in s1["views"] if (v["view"], v["res"]) == ("dual", "480p"))
        encoded = view1["frames_encoded"] - view0["frames_encoded"]
        captured = s1["cameras"]["0"]["frames"] - s0["cameras"]["0"]["frames"]
        assert view1["streams"] == 3 and view1["viewers"] == 2
        # One encode per captured frame, not one per viewer.
        assert 0 < encoded <= captured + 3, (encoded, captured)
        assert sum(delivered) > 1.5 * encoded, (delivered, encoded)
        assert all(d <= encoded + 3 for d in delivered), (delivered, encoded)
        assert time.monotonic() - t0 >= 3
    finally:
        for r in readers:
            r.stop()
    # Nobody watches: the view stops encoding.
    wait_until(lambda: not any(v["view"] == "dual" and v["res"] == "480p" for v in status(system)["views"]), 5)


def test_a_stalled_viewer_neither_slows_others_nor_keeps_its_slot(system, procs):
    path = "/stream?view=dual&res=480p"
    port = int(system["SHT__STREAMER__PORT"])
    good = Reader(base(system) + path, "127.0.0.2").start()
    stalled = None
    slow = None
    try:
        wait_until(lambda: good.parts >= 10, 15)
        t0 = time.monotonic()
        time.sleep(2)
        baseline = good.rate(t0)
        stalled = stalled_viewer(port, path, "127.0.0.3")
        wait_until(lambda: status(system)["limits"]["viewers_by_res"]["480p"] == 2, 5)
        t1 = time.monotonic()
        # The stalled viewer's buffers fill, its writes stop, and it is dropped.
        wait_until(lambda: status(system)["limits"]["viewers_by_res"]["480p"] == 1, 8, interval=0.1)
        assert good.rate(t1) >= 0.75 * baseline, (good.rate(t1), baseline)
        log = procs.log("streamer")
        assert "mjpeg viewer 127.0.0.3 (dual 480p) stopped reading: dropped" in log and "ERROR" not in log
        # A slow (5 fps) viewer keeps its slot.
        slow = Reader(base(system) + path, "127.0.0.4", delay=0.2).start()
        wait_until(lambda: slow.parts >= 3, 10)
        time.sleep(3)
        addresses = {v["address"] for v in status(system)["viewers"]}
        assert "127.0.0.4" in addresses and slow.parts >= 10 and not slow.error
    finally:
        good.stop()
        if slow is not None:
            slow.stop()
        if stalled is not None:
            stalled.close()


def test_legacy_routes_keep_their_meaning(system, procs):
    url = base(system)
    with httpx.Client(timeout=10) as c:
        r = c.post(f"{url}/switch/1").json()
        assert r["success"] is True and r["message"]
        stats = c.get(f"{url}/api/stats").json()
        for key in ("current_camera", "resolution", "codec", "quality", "engine", "active_clients", "max_clients",
                    "recording_enabled"):
            assert key in stats
        assert set(stats["stats"]) >= {"frame_count", "avg_frame_size", "fps", "last_update", "recording"}
        assert stats["current_camera"] == 1 and stats["resolution"] == "640x480" and stats["max_clients"] == 2
        assert c.head(f"{url}/stream").headers["x-view"] == "1"
        assert c.post(f"{url}/api/resolution/1280x720").json()["success"] is True
        code, parts = read_parts(f"{url}/stream", 1)
        assert code == 200 and parts[0].gray().shape == (720, 1280)
        assert c.post(f"{url}/api/dual_mode/true").json()["success"] is True
        code, parts = read_parts(f"{url}/stream", 1)
        assert parts[0].gray().shape == (720, 2560)
        code, parts = read_parts(f"{url}/stream/0", 1)
        assert parts[0].gray().shape == (720, 1280)
        assert c.head(f"{url}/stream/0").status_code == 200
        assert c.post(f"{url}/api/dual_mode/false").json()["success"] is True
        assert c.get(f"{url}/api/stats").json()["dual_mode"] is False

        rec = c.get(f"{url}/api/recording/status").json()
        assert set(rec) == {"camera_0", "camera_1"}
        assert rec["camera_0"] == {**rec["camera_0"], "recording": False, "camera_active": True,
                                   "status": "not running"}
        from common.config import load
        from common.state.board import StatusBoard
        board = StatusBoard.for_config(load(system))
        board.publish("recorder-cam0", {"state": "recording", "recording": True})
        assert c.get(f"{url}/api/recording/status").json()["camera_0"]["recording"] is True
        r = c.post(f"{url}/api/recording/stop/0").json()
        assert r["success"] is True
        assert c.get(f"{url}/api/status").json()["controls"]["recording"]["0"] is False
        assert c.get(f"{url}/api/recording/status").json()["camera_0"]["recording"] is False
        assert c.post(f"{url}/api/recording/start/0").json()["success"] is True
        assert c.get(f"{url}/api/status").json()["controls"]["recording"]["0"] is True
        assert c.get(f"{url}/api/status").json()["recorders"]["0"]["state"] == "recording"

        for path, field in (("/switch/7", "camera_id"), ("/api/resolution/800x600", "resolution"),
                            ("/api/dual_mode/maybe", "enabled"), ("/api/recording/stop/x", "camera_id")):
            r = c.post(url + path)
            assert r.status_code == 400 and r.json()["field"] == field and r.json()["allowed"], path
    # The default view survives a restart of the streamer.
    procs.stop("streamer")
    procs.start("streamer", "-m", "streamer")
    wait_until(lambda: _ok(f"{url}/api/stats"), 30)
    stats = httpx.get(f"{url}/api/stats", timeout=10).json()
    assert stats["resolution"] == "1280x720" and stats["current_camera"] == 1 and stats["dual_mode"] is False


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


BAD_PARAMETERS = [
    ("/stream?view=2", "view"), ("/stream?view=dual&res=1080p", "res"), ("/stream?view=", "view"),
    ("/stream/3", "camera_id"), ("/stream/0?res=4k", "res"), ("/snapshot?view=left", "view"),
    ("/snapshot?res=%00", "res"),
]


def test_bad_parameters_get_json_400(system):
    for path, field in BAD_PARAMETERS:
        for method in ("GET", "HEAD") if path.startswith("/stream") else ("GET",):
            r = httpx.request(method, base(system) + path, timeout=10)
            assert r.status_code == 400, (method, path, r.status_code)
            if method == "GET":
                body = r.json()
                assert body["field"] == field and body["allowed"] and "error" in body, path


def test_status_reports_cameras_views_and_viewers(system):
    reader = Reader(f"{base(system)}/stream?view=1&res=720p", "127.0.0.2").start()
    try:
        wait_until(lambda: reader.parts >= 10, 15)
        time.sleep(1)
        s = status(system)
        assert set(s) >= {"time", "worker_pid", "cameras", "views", "viewers", "limits", "controls", "recorders"}
        cam = s["cameras"]["1"]
        assert cam["live"] and cam["source"] == "synthetic" and cam["fps"] > 0 and cam["frame_age_ms"] < 1000
        view = next(v for v in s["views"] if (v["view"], v["res"]) == ("1", "720p"))
        assert view["viewers"] == 1 and view["fps"] > 0 and view["avg_jpeg_bytes"] > 5000 and view["encode_ms"] > 0
        me = next(v for v in s["viewers"] if v["address"] == "127.0.0.2")
        assert me["view"] == "1" and me["res"] == "720p" and me["bytes_sent"] > 0 and me["fps"] > 0
        assert 0 < me["latency_ms"] < 1000 and me["since"] <= time.time()
        assert s["limits"] == {"max_clients_per_resolution": 2, "viewers_by_res": {"480p": 0, "720p": 1}}
    finally:
        reader.stop()


def test_viewer_limit_holds_across_two_workers(procs, sht_env):
    # Up to 6 streams per address below: above the per-address cap, which is not tested here.
    sht_env["SHT__SECURITY__MAX_STREAMS_PER_ADDRESS"] = "8"
    start_system(procs, sht_env, (0,), "--workers", "2")
    url = f"{base(sht_env)}/stream?view=0&res=480p"
    readers = []
    try:
        # Open streams from two addresses until both workers serve some of them.
        for i in range(12):
            readers.append(Reader(url, ("127.0.0.2", "127.0.0.3")[i % 2]).start())
            wait_until(lambda: readers[-1].parts >= 1, 15)
            pids = {v["pid"] for v in status(sht_env)["viewers"]}
            if len(pids) == 2 and i >= 1:
                break
        assert len(pids) == 2, "the kernel never handed a connection to the second worker"
        for _ in range(6):  # each attempt may land on either worker
            code, _ = read_parts(url, 1, "127.0.0.4")
            assert code == 423
        assert status(sht_env)["limits"]["viewers_by_res"]["480p"] == 2
    finally:
        for r in readers:
            r.stop()
    wait_until(lambda: read_parts(url, 1, "127.0.0.4")[0] == 200, 10, interval=0.2)


def test_sigterm_ends_streams_and_exits_quickly(procs, sht_env):
    start_system(procs, sht_env, (0,))
    reader = Reader(f"{base(sht_env)}/stream?view=0&res=720p", "127.0.0.2").start()
    wait_until(lambda: reader.parts >= 3, 15)
    proc = procs.running["streamer"]
    t0 = time.monotonic()
    proc.terminate()
    proc.wait(10)
    took = time.monotonic() - t0
    reader.stop()
    assert took < 1.5, took   # the spec's budget is 1 s; the margin is for a loaded test machine
    assert "Traceback" not in procs.log("streamer")
    assert "plain ASGI" not in procs.log("streamer")   # the fast path was used


@pytest.mark.parametrize("override, args, word", [
    ({"SHT__STREAMER__PORT": "eighty"}, (), "streamer.port"),
    ({"SHT__STREAMER__JPEG_QUALITY": "101"}, (), "streamer.jpeg_quality"),
    ({}, ("--workers", "0"), "--workers"),
])
def test_bad_configuration_is_one_line_and_exit_code_2(procs, sht_env, override, args, word):
    proc = procs.start("streamer", "-m", "streamer", *args, env={**sht_env, **override})
    assert proc.wait(30) == 2
    lines = procs.log("streamer").strip().splitlines()
    assert len(lines) == 1 and word in lines[0]


def test_plain_uvicorn_serves_streams_too(procs, sht_env):
    """Run by uvicorn's own command, without our protocol: streams go through plain ASGI."""
    procs.capture(0)
    port = sht_env["SHT__STREAMER__PORT"]
    procs.start("uvicorn", "-m", "uvicorn", "streamer.app:create_app", "--factory", "--host", "127.0.0.1",
                "--port", port, "--http", "h11")
    wait_until(lambda: _ok(f"{base(sht_env)}/api/status"), 30)
    code, parts = read_parts(f"{base(sht_env)}/stream?view=0&res=480p", 5)
    assert code == 200 and parts[0].gray().shape == (480, 640)
    assert [p.index for p in parts] == sorted(p.index for p in parts) and len({p.index for p in parts}) == 5
    # Said once, when the app started: not silently slower.
    code, _ = read_parts(f"{base(sht_env)}/stream?view=0&res=480p", 2)
    assert code == 200 and procs.log("uvicorn").count("streams go through plain ASGI") == 1


def test_an_http_1_0_client_gets_the_parts_without_chunk_coding(system):
    port = int(system["SHT__STREAMER__PORT"])
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0)) as sock:
        sock.sendall(b"GET /stream?view=0&res=480p HTTP/1.0\r\nHost: localhost\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"chunked" not in head.lower()
        mp = Multipart(keep=True)
        mp.feed(body)
        parts = mp.take()
        while len(parts) < 3:
            more = sock.recv(65536)
            body += more
            mp.feed(more)
            parts += mp.take()
    # The body is the parts as they are, each followed by CRLF: no chunk sizes between them.
    assert body.startswith(b"--frame\r\n")
    ends = [body.index(p.jpeg) + len(p.jpeg) for p in parts[:2]]
    assert all(body[end:end + 9] == b"\r\n--frame" for end in ends)
    assert all(p.gray().shape == (480, 640) for p in parts[:3])
    assert [p.index for p in parts] == sorted(p.index for p in parts)
