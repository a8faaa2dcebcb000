"""Low-data live view: ``GET /live/{camera}.mp4``, the recorder's own H.264 as fragmented MP4.

One feed per camera in each worker, alive while it has viewers: a thread takes the
camera's packets in order from its packet ring (and tells the recorder someone watches),
turns each into a fragment once, and hands it to the viewers' tasks on the event loop.
A viewer starts at the newest keyframe.  One whose socket is full, or who is more than a
keyframe interval behind, skips to the newest keyframe: nothing piles up for a slow
viewer beyond the feed's short window.  Viewers are counted per address against
``streamer.max_h264_clients`` in a viewer table of their own (same rules as MJPEG's).

Capture times travel on the media timeline itself: a fragment's decode time is its
frame's capture time (CLOCK_MONOTONIC) counted from the feed's first keyframe, and the
``X-Capture-Epoch-Ms`` header gives the wall-clock time of media time 0.  A player's
``mediaTime`` plus that epoch is the frame's capture time.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from common.config import Config
from common.ipc.names import packet_ring_name
from common.ipc.packet_reader import PacketReader
from common.meter import RateMeter
from streamer.live.h264 import fmp4
from streamer.live.viewers import REFRESH_S, table_for
from streamer.params import check_camera
from streamer.server import transport

log = logging.getLogger("streamer")

KB = 1024
FULL_BYTES = 128 * KB        # bytes asyncio holds beyond what the kernel took: the socket is full
PENDING_LIMIT = 192 * KB     # kernel bytes a viewer may have pending: SO_SNDBUF from it (about half a second)
STALL_S = 5.0                # a socket that takes nothing for this long belongs to a viewer who stopped reading
START_TIMEOUT_S = 5.0        # how long a new viewer waits for the first keyframe
DEMAND_EVERY_S = 0.5         # how often a feed tells the recorder that someone watches
RETRY_AFTER_S = 2
RES = "h264"                 # the viewer table's "resolution" for these viewers
_conn_ids = itertools.count(1)


@dataclass(frozen=True)
class Fragment:
    number: int          # consecutive within a feed
    keyframe: bool
    init: bytes          # the init segment it decodes with (the same object while SPS/PPS stay)
    data: bytes          # moof + mdat
    mono_ns: int         # capture time


class Viewer:
    def __init__(self, address: str, camera: int) -> None:
        self.conn = f"h{next(_conn_ids)}"
        self.address, self.camera = address, camera
        self.since = time.time()
        self.wake = asyncio.Event()
        self.gone = False
        self.bytes_sent = 0
        self.skips = 0                    # times it was made to skip to a keyframe
        self.frames = RateMeter(window=2.0, max_events=128)
        self.latency = RateMeter(window=2.0, max_events=128)   # capture -> last byte handed to the socket

    def row(self) -> dict[str, Any]:
        return {"conn": self.conn, "address": self.address, "res": RES, "view": str(self.camera),
                "since": round(self.since, 3), "fps": round(self.frames.rate(), 2), "bytes_sent": self.bytes_sent,
                "skips": self.skips, "latency_p50_ms": round(self.latency.percentile(50), 2),
                "latency_p99_ms": round(self.latency.percentile(99), 2)}


class Feed:
    """One camera's fragments for this worker's viewers."""

    def __init__(self, cfg: Config, camera: int, loop: asyncio.AbstractEventLoop) -> None:
        self.camera, self.loop = camera, loop
        gop = max(1, round(cfg.camera.fps * cfg.recorder.keyframe_seconds))
        self.gop = gop
        self.window: deque[Fragment] = deque(maxlen=2 * gop + 2)
        self.latest_key = -1
        self.codec = ""
        self.epoch_wall_ns = 0
        self.ready = asyncio.Event()
        self.viewers: set[Viewer] = set()
        self._demand_s = max(1.0, cfg.ring.stale_seconds)
        self._reader = PacketReader(packet_ring_name(cfg.ring.prefix, camera), cfg.ring.stale_seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"live-h264-cam{camera}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    # -- feed thread -----------------------------------------------------------------------
    def _run(self) -> None:
        reader = self._reader
        try:
            self._follow(reader)
        except Exception:   # a feed must never take the worker down; its viewers see the stall
            log.exception("live view of camera %d stopped", self.camera)
        finally:
            reader.close()

    def _follow(self, reader: PacketReader) -> None:
        init, extradata, number = b"", b"", 0
        expect: tuple[int, int] | None = None
        usable = False
        base_mono, last_dt, next_demand = -1, -1, 0.0
        started = False
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_demand:
                next_demand = now + DEMAND_EVERY_S
                reader.demand(self._demand_s)
            if not started and reader.alive():
                # The first viewer need not wait for the next keyframe: start at the newest one.
                started = True
                key = reader.newest_keyframe()
                if key >= 0:
                    reader.seek(key)
            packet = reader.next_packet(0.25)
            if packet is None:
                continue
            # After a lost packet or a recorder restart, only a keyframe can start again.
            if expect != (packet.incarnation, packet.index):
                usable = False
            expect = (packet.incarnation, packet.index + 1)
            if packet.keyframe:
                params = reader.extradata()
                if params != extradata:
                    try:
                        init = fmp4.init_segment(params, reader.width, reader.height)
                    except ValueError as exc:
                        log.warning("camera %d: live view: %s", self.camera, exc)
                        continue
                    extradata = params
                    self.codec = fmp4.codec_string(fmp4.parameter_sets(params)[0][0])
                usable = True
            if not usable:
                continue
            if base_mono < 0:
                base_mono = packet.mono_ns
                self.epoch_wall_ns = packet.wall_ns
            dt = max((packet.mono_ns - base_mono) * fmp4.TIMESCALE // 1_000_000_000, last_dt + 1)
            last_dt = dt
            duration = round(fmp4.TIMESCALE / (reader.fps or 30.0))
            number += 1
            frag = Fragment(number, packet.keyframe, init,
                            fmp4.fragment(number, dt, duration, fmp4.sample(packet.data), packet.keyframe),
                            packet.mono_ns)
            try:
                self.loop.call_soon_threadsafe(self._deliver, frag)
            except RuntimeError:   # the loop has closed: the worker is stopping
                return

    # -- event loop ------------------------------------------------------------------------
    def _deliver(self, frag: Fragment) -> None:
        self.window.append(frag)
        if frag.keyframe:
            self.latest_key = frag.number
            self.ready.set()
        for viewer in self.viewers:
            viewer.wake.set()

    def since(self, number: int) -> list[Fragment]:
        """Fragments from ``number`` on that the window still holds."""
        if not self.window:
            return []
        skip = max(0, number - self.window[0].number)
        return list(itertools.islice(self.window, skip, None))


class Socket:
    """What a stream needs of its connection, in one place: is it full, did it close, abort."""

    def __init__(self, scope: Scope, wake: asyncio.Event) -> None:
        self.proto = transport.lookup(scope.get("client"))
        self.wake = wake
        if self.proto is not None:
            self.proto.limit_pending(PENDING_LIMIT)
            self.proto.listen(wake)

    def full(self) -> bool:
        return self.proto is not None and self.proto.buffered > FULL_BYTES

    @property
    def closing(self) -> bool:
        return self.proto is not None and self.proto.closing

    def abort(self) -> None:
        if self.proto is not None:
            self.proto.abort()

    def close(self) -> None:
        if self.proto is not None:
            self.proto.unlisten(self.wake)


class LiveRuntime:
    """This worker's feeds and low-data viewers."""

    def __init__(self, cfg: Config, loop: asyncio.AbstractEventLoop) -> None:
        self.cfg, self.loop = cfg, loop
        self.table = table_for(cfg)
        self.feeds: dict[int, Feed] = {}
        self.viewers: dict[str, Viewer] = {}
        self._sync: asyncio.Task | None = None

    def join(self, viewer: Viewer) -> Feed:
        feed = self.feeds.get(viewer.camera)
        if feed is None:
            feed = self.feeds[viewer.camera] = Feed(self.cfg, viewer.camera, self.loop)
        feed.viewers.add(viewer)
        self.viewers[viewer.conn] = viewer
        if self._sync is None:
            self._sync = self.loop.create_task(self._sync_rows())
        return feed

    def leave(self, viewer: Viewer) -> None:
        self.viewers.pop(viewer.conn, None)
        feed = self.feeds.get(viewer.camera)
        if feed is not None:
            feed.viewers.discard(viewer)
            if not feed.viewers:
                feed.stop()
                del self.feeds[viewer.camera]
        try:
            self.table.remove(viewer.conn)
        except OSError as exc:
            log.warning("h264 viewer table: %s", exc)

    async def _sync_rows(self) -> None:
        try:
            while self.viewers:
                await asyncio.sleep(REFRESH_S)
                try:
                    self.table.sync([v.row() for v in self.viewers.values()], [])
                except OSError as exc:
                    log.warning("h264 viewer table: %s", exc)
        finally:
            self._sync = None

    def rows(self) -> list[dict[str, Any]]:
        return [v.row() for v in self.viewers.values()]


class LiveStream(Response):
    """The response: init segment, then fragments as they come, skipping when it must."""

    def __init__(self, rt: LiveRuntime, viewer: Viewer) -> None:
        super().__init__(content=None, status_code=200)
        self.rt, self.viewer = rt, viewer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        viewer = self.viewer
        feed = self.rt.join(viewer)
        sock: Socket | None = None
        watcher = asyncio.create_task(self._watch(receive))
        try:
            sock = Socket(scope, viewer.wake)
            try:
                await asyncio.wait_for(feed.ready.wait(), START_TIMEOUT_S)
            except asyncio.TimeoutError:
                answer = JSONResponse({"error": f"no video from camera {viewer.camera}",
                                       "reason": feed._reader.error or "no keyframe from the recorder yet",
                                       "retry_after_s": RETRY_AFTER_S},
                                      status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})
                await answer(scope, receive, send)
                return
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"video/mp4"), (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"), (b"x-codec", feed.codec.encode()),
                (b"x-capture-epoch-ms", f"{feed.epoch_wall_ns / 1e6:.3f}".encode())]})
            await self._pump(feed, sock, send)
        finally:
            watcher.cancel()
            if sock is not None:
                sock.close()
            self.rt.leave(viewer)

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.viewer.gone = True
                self.viewer.wake.set()
                return

    async def _pump(self, feed: Feed, sock: Socket, send: Send) -> None:
        viewer = self.viewer
        next_no, need_key, sent_init, full_since = feed.latest_key, False, b"", 0.0
        while True:
            await viewer.wake.wait()
            viewer.wake.clear()
            if viewer.gone or sock.closing:
                return
            if not feed.window or next_no > feed.window[-1].number:
                continue
            newest = feed.window[-1].number
            if sock.full():
                now = time.monotonic()
                full_since = full_since or now
                if now - full_since > STALL_S:
                    log.info("live viewer %s (camera %d) stopped reading: dropped", viewer.address, viewer.camera)
                    sock.abort()
                    return
                if not need_key:
                    viewer.skips += 1
                need_key, next_no = True, newest + 1
                continue
            full_since = 0.0
            frags = feed.since(next_no)
            if next_no < feed.window[0].number or len(frags) > feed.gop:   # late: left behind
                if not need_key:
                    viewer.skips += 1
                need_key = True
            if need_key:
                keys = [i for i, f in enumerate(frags) if f.keyframe]
                if not keys:
                    next_no = newest + 1
                    continue
                frags, need_key = frags[keys[-1]:], False
            parts = []
            for frag in frags:
                if frag.init is not sent_init:
                    parts.append(frag.init)
                    sent_init = frag.init
                parts.append(frag.data)
            body = b"".join(parts)
            try:
                # Waits only while the socket drains (flow control); fragments meanwhile are
                # skipped above once the viewer is a keyframe interval behind.
                await asyncio.wait_for(send({"type": "http.response.body", "body": body, "more_body": True}),
                                       STALL_S)
            except asyncio.TimeoutError:
                log.info("live viewer %s (camera %d) stopped reading: dropped", viewer.address, viewer.camera)
                sock.abort()
                return
            next_no = frags[-1].number + 1
            now_ns = time.monotonic_ns()
            viewer.bytes_sent += len(body)
            for frag in frags:
                viewer.frames.add(now=now_ns / 1e9)
            viewer.latency.add((now_ns - frags[-1].mono_ns) / 1e6, now=now_ns / 1e9)


def _runtime(request: Request) -> LiveRuntime:
    rt = getattr(request.app.state, "live_h264", None)
    if rt is None:
        rt = request.app.state.live_h264 = LiveRuntime(request.app.state.cfg, asyncio.get_running_loop())
    return rt


def rows(app: Any) -> list[dict[str, Any]]:
    """This worker's low-data viewers, for /api/status."""
    rt = getattr(app.state, "live_h264", None)
    return rt.rows() if rt is not None else []


router = APIRouter()


@router.get("/live/{camera}.mp4")
async def live_mp4(camera: str, request: Request) -> Response:
    cfg: Config = request.app.state.cfg
    cam = check_camera(cfg, camera, "camera")
    rt = _runtime(request)
    viewer = Viewer(request.client.host if request.client else "unknown", cam)
    admission = rt.table.admit(viewer.row())
    if not admission.ok:
        return JSONResponse({"error": "viewer limit reached", "reason": admission.reason, "res": RES,
                             "limit": admission.limit, "holders": admission.holders,
                             "retry_after_s": RETRY_AFTER_S},
                            status_code=423, headers={"Retry-After": str(RETRY_AFTER_S)})
    return LiveStream(rt, viewer)
