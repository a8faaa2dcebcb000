"""A recorder in a thread of the test, fed frames by the test as the capture process would."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from common.config import load
from common.ipc.frame_writer import RingWriter
from common.ipc.names import packet_ring_name, ring_name
from common.ipc.packet_reader import Packet, PacketReader
from recorder.recording import Recorder
from tests.support.procs import isolated_env

W, H, FPS = 320, 240, 30


class RecorderRig:
    """Camera 0's recorder in a thread, fed by the test; its packet ring read from the first packet."""

    def __init__(self, tmp: Path, **overrides: object) -> None:
        env = isolated_env(tmp / "sht", recorder__align_to_clock=False, recorder__sync_seconds=0, ring__slots=64,
                           **overrides)
        self.cfg = load(env)
        self.ring = RingWriter(ring_name(self.cfg.ring.prefix, 0, "hd"), W, H, self.cfg.ring.slots, FPS, "test",
                               "CAM 0")
        self.rec = Recorder(self.cfg, 0)
        self.thread = threading.Thread(target=self.rec.run, daemon=True)
        self.thread.start()
        self.packets = PacketReader(packet_ring_name(self.cfg.ring.prefix, 0))
        self.fed = 0
        self._base = np.random.default_rng(3).integers(16, 235, (H, W), np.uint8)

    def feed(self, count: int, each: Callable[[], None] = lambda: None) -> None:
        """``count`` frames of a moving picture at 30 fps; ``each`` runs after every frame."""
        t0 = time.monotonic()
        for n in range(count):
            y, u, v = self.ring.begin()
            y[:] = np.roll(self._base, 4 * self.fed, axis=1)
            u[:], v[:] = 100 + self.fed % 40, 140
            now = time.monotonic_ns()
            self.ring.commit(now, time.time_ns())
            self.fed += 1
            each()
            time.sleep(max(0.0, t0 + (n + 1) / FPS - time.monotonic()))

    def published(self) -> list[Packet]:
        """Every packet in the packet ring so far, from its first."""
        assert self.packets.alive()   # attached: a seek now holds
        self.packets.seek(0)
        got = []
        while (packet := self.packets.next_packet(0.5)) is not None:
            got.append(packet)
        return got

    def stop(self) -> None:
        self.rec.stop()
        self.thread.join(15)
        assert not self.thread.is_alive()

    def close(self) -> None:
        if self.thread.is_alive():
            self.stop()
        self.packets.close()
        self.ring.close(unlink=True)
