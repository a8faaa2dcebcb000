"""Low-data live view: ``GET /live/{camera}.mp4``, the recorder's own H.264 as fragmented MP4.

A viewer starts at the newest keyframe of its camera's feed (:mod:`streamer.live.h264.feed`).
One whose socket is full, or who is more than a keyframe interval behind, skips to the
newest keyframe: nothing piles up for a slow viewer beyond the feed's short window.  The
``X-Capture-Epoch-Ms`` header gives the wall-clock time of media time 0: a player's
``mediaTime`` plus that epoch is the frame's capture time.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from starlette.types import Receive, Scope, Send

from streamer.errors import error_response
from streamer.language import raw_language
from streamer.live.h264.feed import Feed, Feeds
from streamer.live.session import LiveResponse, ViewerSession

KB = 1024
FULL_BYTES = 128 * KB        # bytes asyncio holds beyond what the kernel took: the socket is full
PENDING_LIMIT = 192 * KB     # kernel bytes a viewer may have pending: SO_SNDBUF from it (about half a second)
START_TIMEOUT_S = 5.0        # how long a new viewer waits for the first keyframe
RETRY_AFTER_S = 2
POOL = "h264"                # the viewer table's pool of these viewers


class H264Viewer(ViewerSession):
    """A low-data viewer of one camera."""

    kind = "h264"

    def __init__(self, address: str, camera: int) -> None:
        super().__init__(address, str(camera), POOL)
        self.camera = camera
        self.skips = 0                    # times it was made to skip to a keyframe

    def figures(self) -> dict[str, Any]:
        return {"skips": self.skips}


class H264Stream(LiveResponse):
    """The response: init segment, then fragments as they come, skipping when it must."""

    def __init__(self, feeds: Feeds, viewer: H264Viewer, on_end: Callable[[ViewerSession], None]) -> None:
        # No caching, no sniffing: the app's policy (streamer.auth.headers) says so.
        super().__init__(viewer, on_end, {}, "video/mp4")
        self.feeds, self.viewer = feeds, viewer

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        viewer = self.viewer
        feed = self.feeds.join(viewer.camera, viewer)
        try:
            try:
                async with asyncio.timeout(START_TIMEOUT_S):
                    await feed.ready.wait()
            except TimeoutError:
                answer = error_response(503, "no_video", raw_language(scope.get("headers") or []),
                                        {"Retry-After": str(RETRY_AFTER_S)}, say={"camera": viewer.camera},
                                        reason=feed.error or "no keyframe from the recorder yet",
                                        retry_after_s=RETRY_AFTER_S)
                await answer(scope, receive, send)
                return
            if viewer.connection is not None:
                viewer.connection.limit_pending(PENDING_LIMIT)
            await self.start(send, [(b"x-codec", feed.codec.encode()),
                                    (b"x-capture-epoch-ms", f"{feed.epoch_wall_ns / 1e6:.3f}".encode())])
            await self._pump(feed, send)
        finally:
            self.feeds.leave(viewer.camera, viewer)

    def _full(self) -> bool:
        conn = self.viewer.connection
        return conn is not None and conn.buffered > FULL_BYTES

    def _skip(self, need_key: bool) -> None:
        if not need_key:
            self.viewer.skips += 1

    async def _pump(self, feed: Feed, send: Send) -> None:
        viewer = self.viewer
        next_no, need_key, sent_init = feed.latest_key, False, b""
        while True:
            await viewer.wake.wait()
            viewer.wake.clear()
            if not viewer.active:
                return
            if not feed.window or next_no > feed.window[-1].number:
                continue
            newest = feed.window[-1].number
            if self._full():
                # Start again at a keyframe once the socket has taken what it holds.
                self._skip(need_key)
                need_key, next_no = True, newest + 1
                if not await viewer.drained():
                    return
                continue
            frags = feed.since(next_no)
            if next_no < feed.window[0].number or len(frags) > feed.gop:   # late: left behind
                self._skip(need_key)
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
            # Waits only while the socket drains; fragments meanwhile are skipped above once
            # the viewer is a keyframe interval behind.
            if not await viewer.send(send, body):
                return
            next_no = frags[-1].number + 1
            now_ns = time.monotonic_ns()
            viewer.bytes_sent += len(body)
            for frag in frags:
                viewer.latency.add((now_ns - frag.mono_ns) / 1e6, now=now_ns / 1e9)
