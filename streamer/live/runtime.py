"""A worker's live runtime: view encoders, low-data feeds, open viewers, camera readers, snapshots.

Made when the worker's event loop starts, closed when it stops.  Every REFRESH_S a busy
worker rewrites its rows in the shared viewer table (both kinds, with fresh statistics)
and reaps the view encoders nobody watches any more.  A worker keeps nothing another
worker needs: defaults live in ``Controls``, viewer slots in the shared viewer table,
frames in the rings.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from common.config import Config
from common.process.memory import trim
from common.state.controls import Controls
from streamer.auth import RateLimit, limit_file, remove_limit_files
from streamer.live.admission import Viewers, shared_table
from streamer.live.cameras import CameraWatch
from streamer.live.h264.feed import Feeds
from streamer.live.h264.stream import H264Viewer
from streamer.live.mjpeg.encoder import Encoders, Picture
from streamer.live.mjpeg.stream import MJPEGViewer
from streamer.live.viewers import REFRESH_S, holders
from streamer.params import RESOLUTIONS, check_res, check_view

log = logging.getLogger("streamer")

SNAPSHOT_RATE, SNAPSHOT_BURST = 2.0, 4        # per address: pictures a second, and at once
SNAPSHOT_ENCODES_PER_S = 4.0                   # whole streamer: snapshots made (not reused) a second


@dataclass(frozen=True)
class LiveReport:
    """Every worker's viewers and views, for /api/status (this worker's own taken live,
    fresher than its last table write)."""

    mjpeg: list[dict[str, Any]]           # rows of MJPEG viewers
    h264: list[dict[str, Any]]            # rows of low-data viewers
    views: list[list[dict[str, Any]]]     # view statistics of each worker, this one's first
    holders: dict[str, int]               # distinct MJPEG addresses per resolution


class LiveRuntime:
    """This worker's live parts."""

    def __init__(self, cfg: Config, loop: asyncio.AbstractEventLoop, controls: Controls) -> None:
        self.cfg, self.loop, self.controls = cfg, loop, controls
        self.encoders = Encoders(cfg, loop)
        self.feeds = Feeds(cfg, loop)
        self.viewers = Viewers(cfg)
        self.cameras = CameraWatch(cfg)
        # Snapshots: a budget per client, and one for the encodes of the whole streamer (all workers).
        self.snapshot_rate = RateLimit(SNAPSHOT_RATE, SNAPSHOT_BURST, limit_file(cfg, "snapshots"))
        self.snapshot_encodes = RateLimit(SNAPSHOT_ENCODES_PER_S, SNAPSHOT_ENCODES_PER_S,
                                          limit_file(cfg, "snapshot-encodes"), records=64)
        self._snapshot_lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._refresh = self.loop.create_task(self._refresh_rows())

    async def _refresh_rows(self) -> None:
        was_busy, was_held, ended = True, 0, False
        while True:
            await asyncio.sleep(REFRESH_S)
            if ended:
                trim()   # the ended encoders' and feeds' threads have let go of their buffers since
            self.encoders.reap()
            held = len(self.encoders) + len(self.feeds)
            ended, was_held = held < was_held, held
            # An idle worker has nothing to refresh once it has said so.
            busy = bool(self.viewers or self.encoders)
            if busy or was_busy:
                self.viewers.sync(self.encoders.stats())
            was_busy = busy

    def defaults(self, view: str | None, res: str | None) -> tuple[str, str]:
        """The view and resolution asked for, the shared defaults for those left out."""
        ctrl = self.controls.get()
        view = check_view(self.cfg, ctrl["view"] if view is None else view)
        res = check_res(ctrl["resolution"] if res is None else res).name
        return view, res

    async def snapshot(self, view: str, res: str) -> Picture | float | None:
        """A live view's current picture when it is being encoded; else one made now, one at a
        time and within the streamer's budget, shared by its workers (seconds to wait when over it)."""
        pic = self.encoders.fresh_picture(view, res)
        if pic is not None:
            return pic
        async with self._snapshot_lock:
            wait = self.snapshot_encodes.take("all")
            if wait > 0:
                return wait
            return await asyncio.to_thread(self.encoders.snapshot, view, res)

    def report(self) -> LiveReport:
        table = self.viewers.table.read()
        pid = self.viewers.table.pid
        rows = [r for r in table["viewers"] if r.get("pid") != pid]
        rows += [{**r, "pid": pid} for r in self.viewers.rows()]
        others = [w.get("views", []) for key, w in table["workers"].items() if key != str(pid)]
        mjpeg = [r for r in rows if r.get("kind") == MJPEGViewer.kind]
        return LiveReport(mjpeg, [r for r in rows if r.get("kind") == H264Viewer.kind],
                          [self.encoders.stats(), *others], {res: len(holders(mjpeg, res)) for res in RESOLUTIONS})

    def close(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        self.encoders.close()
        self.feeds.close()
        self.viewers.close()
        self.cameras.close()


def remove_shared_files(cfg: Config) -> None:
    """The whole streamer has stopped: remove what it made in /dev/shm."""
    shared_table(cfg).delete_files()
    remove_limit_files(cfg)
