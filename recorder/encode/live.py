"""Publishing the recorder's own H.264 packets for low-data live view.

The packet ring is an output of the recorder's one encoder: every access unit it makes goes
into the camera's packet ring (one copy, no second encode), with its capture times and the
encoder's parameter sets.  While recording is paused, or waits after a write error, the
recorder keeps the encoder going with this output alone for as long as a live viewer asks
for packets (the ring's demand word).
"""
from __future__ import annotations

import logging
from typing import Any

import av

from common.config import Config
from common.ipc.names import packet_ring_name
from common.ipc.packet_layout import data_bytes_for, entries_for
from common.ipc.packet_writer import PacketWriter
from common.ipc.segment import RingBusy
from recorder.encode.encoder import Encoder, Output
from recorder.encode.settings import VBV_SECONDS

log = logging.getLogger("recorder")


class LiveFeed(Output):
    def __init__(self, cfg: Config, camera: int, width: int, height: int) -> None:
        super().__init__()
        self.camera = camera
        self.packets: PacketWriter | None = None
        self._extradata = b""
        try:
            fps = cfg.camera.fps
            entries = entries_for(fps, cfg.recorder.gop(fps))
            data = data_bytes_for(entries, fps, cfg.recorder.max_bitrate_kbps, VBV_SECONDS)
            self.packets = PacketWriter(packet_ring_name(cfg.ring.prefix, camera), width, height,
                                        fps, cfg.ring.stale_seconds, entries=entries, data_bytes=data)
        except (RingBusy, OSError, ValueError) as exc:
            self._off(exc)

    def attach(self, encoder: Encoder) -> None:
        """Publish every packet ``encoder`` makes from now on (call when it starts)."""
        if self.packets is not None:
            self._extradata = encoder.extradata
            encoder.add(self, keyframe=False)

    def write(self, packet: av.Packet[Any], pts: int, mono_ns: int, wall_ns: int) -> None:
        packets = self.packets
        if packets is None:
            return
        try:
            if packet.is_keyframe:
                packets.set_extradata(self._extradata)   # the same bytes every time: a cheap compare
            packets.publish(bytes(packet), packet.is_keyframe, mono_ns, wall_ns)
        except (ValueError, OSError, BufferError) as exc:
            # Live view gives, recording goes on.
            self._off(exc)
            self.packets = None
            packets.close()

    def _off(self, exc: BaseException) -> None:
        self.error = exc
        log.error("camera %d: low-data live view off: %s: %s", self.camera, type(exc).__name__, exc)

    def tick(self) -> None:
        if self.packets is not None:
            self.packets.heartbeat()

    def wanted(self) -> bool:
        return self.packets is not None and self.packets.wanted()

    def close(self) -> None:
        if self.packets is not None:
            self.packets.close()
