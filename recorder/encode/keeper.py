"""The recorder's one encoder over its life: started, restarted, stopped.

The encoder runs on across segment boundaries, and through a pause that a live viewer
watches (it then encodes the newest frames for the packet ring alone).  A new one starts
only for a new capture incarnation (the capture process restarted) or a new picture size,
after an error, or when frames come again after nothing needed it.  Every encoder started
gets the packet ring (:class:`LiveFeed`) as its first output.
"""
from __future__ import annotations

import dataclasses
import logging
import time

import av

from common.ipc.frame_reader import Frame, RingReader
from common.process.memory import trim
from recorder.encode.encoder import Encoder
from recorder.encode.frame import InputFrame
from recorder.encode.live import LiveFeed
from recorder.encode.settings import EncoderSettings

log = logging.getLogger("recorder")


class EncoderKeeper:
    def __init__(self, settings: EncoderSettings, live: LiveFeed, camera: int) -> None:
        self.settings = settings
        self.live = live
        self.camera = camera
        self.encoder: Encoder | None = None
        self._incarnation = 0   # the capture incarnation the encoder's frames come from

    def fits(self, frame: Frame) -> bool:
        """Can the running encoder take ``frame``?"""
        w, h = frame.width, frame.height
        enc = self.encoder
        return enc is not None and self._incarnation == frame.incarnation and enc.size == (w, h)

    def for_frame(self, frame: Frame, purpose: str = "") -> Encoder:
        """The running encoder, or a new one when it cannot take ``frame``."""
        if self.fits(frame):
            return self.encoder   # type: ignore[return-value]
        self.stop()
        w, h = frame.width, frame.height
        settings = self.settings if (w, h) == (self.settings.width, self.settings.height) else \
            dataclasses.replace(self.settings, width=w, height=h)
        enc = self.encoder = Encoder(settings, frame.mono_ns)
        self._incarnation = frame.incarnation
        self.live.attach(enc)
        log.info("camera %d: %s encoder started (%dx%d)%s", self.camera, settings.codec, w, h, purpose)
        return enc

    def encode_newest(self, reader: RingReader, picture: InputFrame, timeout: float) -> None:
        """Not recording, but a live viewer watches: encode the newest frame for the packet ring."""
        frame = reader.next_frame(timeout, newest=True)
        if frame is None:
            return
        pic = picture.fill(frame)
        if not frame.valid():
            return
        try:
            self.for_frame(frame, ", for live viewers only").encode(pic, frame.mono_ns, frame.wall_ns)
        except (av.FFmpegError, OSError, ValueError) as exc:
            log.error("camera %d: encoding for live viewers: %s: %s", self.camera, type(exc).__name__, exc)
            self.stop()
            time.sleep(1.0)  # not a busy loop if it keeps failing

    def stop(self) -> None:
        """Drain the encoder into its outputs (they all end) and close it."""
        enc, self.encoder = self.encoder, None
        if enc is None:
            return
        try:
            enc.close()
        except (av.FFmpegError, OSError) as exc:
            log.error("camera %d: closing the encoder: %s: %s", self.camera, type(exc).__name__, exc)
        trim()  # the encoder's buffers go back to the OS, not into a growing heap
