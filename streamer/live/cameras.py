"""What the streamer knows of its cameras: ring readers for status and heartbeats.

Each camera's ring says whether it has fresh frames; the capture process's status document
says why it has none (not connected, off, error).
"""
from __future__ import annotations

from typing import Any

from common.config import Config
from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from common.process.pids import pid_alive
from common.state.board import StatusBoard, capture_status_name
from streamer.params import RESOLUTIONS, view_cameras

LIVE_AGE_S = 1.0       # a camera whose newest frame is older than this shows NO SIGNAL
# Capture states that explain a camera without pictures (published by the capture process).
EXPLAINED = ("not connected", "off", "error")


class CameraWatch:
    """Ring readers used only for status and heartbeats (on the event loop thread)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._readers: dict[tuple[int, str], RingReader] = {}
        self._board = StatusBoard.for_config(cfg)

    def reader(self, cam: int, stream: str) -> RingReader:
        key = (cam, stream)
        if key not in self._readers:
            self._readers[key] = RingReader(ring_name(self.cfg.ring.prefix, cam, stream), self.cfg.ring.stale_seconds)
        return self._readers[key]

    def camera(self, cam: int, stream: str = "sd") -> dict[str, Any]:
        st = self.reader(cam, stream).status()
        age = st.frame_age_s
        live = st.live(LIVE_AGE_S)
        state, reason, code = self.capture_state(cam, live)
        return {"name": st.camera_name or self.cfg.camera_name(cam), "source": st.source or None,
                "live": live, "writer_alive": st.writer_alive, "fps": round(st.fps, 2),
                "frames": st.frames, "drops": st.drops,
                "frame_age_ms": None if age is None else round(age * 1000, 1), "restarts": st.restarts,
                "error": st.error or None, "state": state, "reason": reason, "reason_code": code}

    def capture_state(self, cam: int, live: bool) -> tuple[str, str | None, str | None]:
        """live | not connected | off | error | no signal, why in the capture's words and the
        code of why (for the page and /api/health)."""
        if live:
            return "live", None, None
        doc = self._board.read(capture_status_name(cam)) or {}
        state = doc.get("state")
        # An error outlives its process (it exited 2 and stays down); the others need it running.
        if state in EXPLAINED and (state == "error" or pid_alive(int(doc.get("pid") or 0))):
            return str(state), str(doc.get("reason") or "") or None, doc.get("reason_code") or None
        return "no signal", None, None

    def heartbeat(self, view: str, res: str) -> tuple[list[int], float | None]:
        """Live cameras of a view and the youngest frame age (ms) among them."""
        live, ages = [], []
        for cam in view_cameras(view):
            st = self.reader(cam, RESOLUTIONS[res].stream).status()
            if st.frame_age_s is not None:
                ages.append(st.frame_age_s * 1000)
            if st.live(LIVE_AGE_S):
                live.append(cam)
        return live, (round(min(ages), 1) if ages else None)

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
