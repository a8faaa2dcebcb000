"""A camera's low-data feed: its packet ring turned into fragmented-MP4 fragments, once per worker.

One feed per camera in each worker, alive while it has viewers (:class:`Feeds`): a thread
takes the camera's packets in order from its packet ring (and tells the recorder someone
watches), turns each into a fragment once, and hands it to the viewers on the event loop,
which keeps the newest ones in a short window (about two keyframe intervals).

Capture times travel on the media timeline itself: a fragment's decode time is its
frame's capture time (CLOCK_MONOTONIC) counted from the feed's first keyframe, and
``epoch_wall_ns`` is the wall-clock time of media time 0.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from common.config import Config
from common.ipc.names import packet_ring_name
from common.ipc.packet_reader import PacketReader
from streamer.live.h264 import fmp4
from streamer.live.session import ViewerSession

log = logging.getLogger("streamer")

DEMAND_EVERY_S = 0.5         # how often a feed tells the recorder that someone watches


@dataclass(frozen=True)
class Fragment:
    number: int          # consecutive within a feed
    keyframe: bool
    init: bytes          # the init segment it decodes with (the same object while SPS/PPS stay)
    data: bytes          # moof + mdat
    mono_ns: int         # capture time


class Feed:
    """One camera's fragments for this worker's viewers."""

    def __init__(self, cfg: Config, camera: int, loop: asyncio.AbstractEventLoop) -> None:
        self.camera, self.loop = camera, loop
        gop = cfg.recorder.gop(cfg.camera.fps)
        self.gop = gop
        self.window: deque[Fragment] = deque(maxlen=2 * gop + 2)
        self.latest_key = -1
        self.codec = ""
        self.epoch_wall_ns = 0
        self.ready = asyncio.Event()
        self.viewers: set[ViewerSession] = set()   # woken on each fragment
        self._demand_s = max(1.0, cfg.ring.stale_seconds)
        self._reader = PacketReader(packet_ring_name(cfg.ring.prefix, camera), cfg.ring.stale_seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"live-h264-cam{camera}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def error(self) -> str:
        """Why the packet ring gives nothing, if it says."""
        return self._reader.error

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


class Feeds:
    """This worker's feeds, one per camera watched, started by its first viewer, stopped after its last."""

    def __init__(self, cfg: Config, loop: asyncio.AbstractEventLoop) -> None:
        self.cfg, self.loop = cfg, loop
        self._by_camera: dict[int, Feed] = {}

    def __len__(self) -> int:
        return len(self._by_camera)

    def join(self, camera: int, viewer: ViewerSession) -> Feed:
        feed = self._by_camera.get(camera)
        if feed is None:
            feed = self._by_camera[camera] = Feed(self.cfg, camera, self.loop)
        feed.viewers.add(viewer)
        return feed

    def leave(self, camera: int, viewer: ViewerSession) -> None:
        feed = self._by_camera.get(camera)
        if feed is not None:
            feed.viewers.discard(viewer)
            if not feed.viewers:
                feed.stop()
                del self._by_camera[camera]

    def close(self) -> None:
        for feed in self._by_camera.values():
            feed.stop()
        self._by_camera.clear()
