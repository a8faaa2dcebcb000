"""One camera's motion watch: its sd ring, detector and tracker, and its events in the store.

An event is stored the moment it is confirmed, and the picture of its largest motion so far
is put in memory (:mod:`common.state.live_picture`): the events list shows it with a
thumbnail from its first second.  While it is open the thumbnail follows its peak (a larger
peak's picture at most every ``PICTURE_EVERY_NS``) there; the database gets the last one
when the event ends: one picture per event written to the disk, not two.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from common.archive.events import EventStore
from common.config import Config
from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from common.state.documents import EventProgress, MotionCamera
from common.state.live_picture import LivePictures
from common.video.overlay import stamp_rows
from common.video.streams import STREAMS
from motion.detector import NO_MOTION, Detector
from motion.thumbnail import Planes, half_planes, thumbnail_jpeg
from motion.tracker import STOP, OpenEvent, Tracker

log = logging.getLogger("motion")
# Progress of an open event goes to the database this often (frame time), as long as the longest
# event by default: most events are written when they open and when they end only.  Every second
# it is in the motion status (in memory), from which a restart after a kill -9 takes it; only a
# power cut can lose up to this much of an open event's end (its video is in the recordings).
# Each write dirties pages of the journal and its index that are flushed about 30 s later, so
# the SD card pays per write, not per byte: once a minute cost 15 MB a day more for two cameras.
TOUCH_EVERY_NS = 300_000_000_000
# A larger peak's picture is shown sooner (in memory), so the list shows what is happening: at
# most this often (each one is a JPEG encoding).
PICTURE_EVERY_NS = 5_000_000_000
GAP_RESET_S = 2.0      # frames this far apart: the background is stale, learn it again


class Picture(Protocol):
    """An sd frame as the ring hands it out (:class:`common.ipc.frame_reader.Frame`)."""
    mono_ns: int
    wall_ns: int
    @property
    def y(self) -> np.ndarray: ...

    @property
    def u(self) -> np.ndarray: ...

    @property
    def v(self) -> np.ndarray: ...

    def valid(self) -> bool: ...


class CameraWatch:
    def __init__(self, cfg: Config, camera: int, store: EventStore,
                 on_start: Callable[[dict[str, Any]], None] | None = None) -> None:
        mc = cfg.motion
        self.camera = camera
        self.store = store
        self.on_start = on_start
        self.pre_s = float(mc.pre_seconds)
        width, height = STREAMS["sd"]
        masks = mc.masks[camera] if camera < len(mc.masks) else []
        self.detector = Detector(width, height, mc.sensitivity, masks,
                                 stamp_rows(height) if cfg.camera.overlay else 0)
        self.tracker = Tracker(mc.min_area_percent, mc.post_seconds, mc.max_event_seconds)
        self.reader = RingReader(ring_name(cfg.ring.prefix, camera, "sd"), cfg.ring.stale_seconds)
        self.pictures = LivePictures(cfg.run_dir, cfg.ring.prefix)
        self._last_index = -1
        self._last_mono_ns = 0
        self._incarnation = 0
        self._thumb: Planes | None = None   # the open event's picture: its peak so far
        self._jpeg: bytes | None = None      # ... encoded (once)
        self._stored = True                  # ... in the store
        self._shown = True                   # ... in the store or in memory for readers
        self._touched_ns = 0
        self._shown_ns = 0
        self.frames = 0
        self.events = 0
        self.last_area = 0.0

    @property
    def open_event(self) -> OpenEvent | None:
        return self.tracker.event

    def tick(self) -> None:
        """Analyse the newest frame, if there is a new one; close a quiet event even without frames."""
        frame = self.reader.latest()
        if frame is None or (frame.index == self._last_index and frame.incarnation == self._incarnation):
            self._idle()
            return
        if frame.incarnation != self._incarnation or frame.mono_ns - self._last_mono_ns > GAP_RESET_S * 1e9:
            self.detector.reset()
        self._incarnation, self._last_index, self._last_mono_ns = frame.incarnation, frame.index, frame.mono_ns
        self.analyse(frame)

    def analyse(self, frame: Picture) -> None:
        """One analysed frame: detection, then what it changes in the events."""
        motion = self.detector.feed(frame.y)
        if not frame.valid():  # lapped by the writer while reading: this frame is unreliable
            self.detector.reset()
            return
        self.frames += 1
        self.last_area = motion.area_percent
        step = self.tracker.update(frame.mono_ns, frame.wall_ns, motion)
        if step.ended is not None:   # first: at a cut the next event starts with this frame
            self._ended(step.ended, step.reason)
        if step.peak:
            planes = half_planes(frame.y, frame.u, frame.v)
            if frame.valid():
                self._thumb, self._jpeg, self._stored, self._shown = planes, None, False, False
        ev = self.tracker.event
        if step.started is not None:
            self._started(step.started, frame.mono_ns)
        elif ev is not None:
            if frame.mono_ns - self._touched_ns >= TOUCH_EVERY_NS:
                self._touch(ev, frame.mono_ns)
            if not self._shown and frame.mono_ns - self._shown_ns >= PICTURE_EVERY_NS:
                self._show(ev, frame.mono_ns)

    def _idle(self) -> None:
        ev = self.tracker.event
        if ev is None:
            return
        step = self.tracker.update(time.monotonic_ns(), time.time_ns(), NO_MOTION)
        if step.ended is not None:
            self._ended(step.ended, step.reason)

    def _encoded(self) -> bytes | None:
        if self._jpeg is None and self._thumb is not None:
            self._jpeg = thumbnail_jpeg(self._thumb)
        return self._jpeg

    def _new_thumbnail(self) -> bytes | None:
        """The JPEG of a picture not yet stored, or None: the stored one stands."""
        if self._stored:
            return None
        self._stored = self._shown = True
        return self._encoded()

    def _show(self, ev: OpenEvent, now_ns: int) -> None:
        """The newest picture to readers, in memory."""
        self._shown_ns, self._shown = now_ns, True
        jpeg = self._encoded()
        if ev.event_id is None or jpeg is None:
            return
        try:
            self.pictures.put(self.camera, ev.event_id, jpeg)
        except OSError as exc:
            log.warning("camera %d: the open event's picture: %s", self.camera, exc)

    def _started(self, ev: OpenEvent, now_ns: int) -> None:
        ev.event_id = self.store.open_event(self.camera, ev.start_wall_ns / 1e9, ev.start_mono_ns / 1e9, self.pre_s,
                                            ev.peak_area, ev.peak_bbox, ev.peak_wall_ns / 1e9)
        self._show(ev, now_ns)   # its first picture, in memory: the database gets its last
        self._touched_ns = now_ns
        self.events += 1
        log.info("camera %d: event %d started (%.1f%% of the picture moves)%s", self.camera, ev.event_id,
                 ev.peak_area, f", continuing event {ev.continues}" if ev.continues is not None else "")
        if self.on_start is not None:
            self.on_start({"event": "start", "id": ev.event_id, "camera": self.camera,
                           "start_wall": round(ev.start_wall_ns / 1e9, 3), "area_percent": ev.peak_area,
                           "bbox_percent": list(ev.peak_bbox) if ev.peak_bbox else None,
                           "continues": ev.continues})

    def _touch(self, ev: OpenEvent, now_ns: int) -> None:
        self._touched_ns = now_ns
        if ev.event_id is not None:
            self.store.touch(ev.event_id, ev.last_wall_ns / 1e9, ev.last_mono_ns / 1e9, ev.peak_area, ev.peak_bbox,
                             ev.peak_wall_ns / 1e9)

    def _ended(self, ev: OpenEvent, reason: str) -> None:
        thumb = self._new_thumbnail()
        self._thumb, self._jpeg, self._stored, self._shown = None, None, True, True
        if ev.event_id is None:
            return
        self.store.close_event(ev.event_id, ev.end_wall_ns / 1e9, ev.end_mono_ns / 1e9, reason,
                               ev.last_wall_ns / 1e9, ev.last_mono_ns / 1e9, ev.peak_area, ev.peak_bbox,
                               ev.peak_wall_ns / 1e9, thumb)
        self.pictures.drop(self.camera)   # (after the store has the last one)
        log.info("camera %d: event %d ended (%s), %.1f s, peak %.1f%%", self.camera, ev.event_id, reason,
                 (ev.end_wall_ns - ev.start_wall_ns) / 1e9, ev.peak_area)

    def stop(self) -> None:
        """Close an open event at its last motion (a clean stop)."""
        ev = self.tracker.close()
        if ev is not None:
            self._ended(ev, STOP)
        self.reader.close()

    def status(self) -> MotionCamera:
        ev = self.tracker.event
        progress: EventProgress | None = None
        if ev is not None and ev.event_id is not None:
            progress = {"event_id": ev.event_id, "last_wall": ev.last_wall_ns / 1e9, "last_mono": ev.last_mono_ns / 1e9,
                        "peak_area": ev.peak_area, "bbox": list(ev.peak_bbox) if ev.peak_bbox else None,
                        "peak_wall": ev.peak_wall_ns / 1e9}
        return {"open": progress is not None, "event_id": ev.event_id if ev is not None else None,
                "area_percent": self.last_area, "frames": self.frames, "events": self.events,
                "ring_error": self.reader.error, "progress": progress}
