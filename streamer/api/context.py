"""What a worker's API routes work with: the settings and status files every process shares,
and the worker's live parts they report on.  The app keeps it as ``app.state.rt``."""
from __future__ import annotations

from dataclasses import dataclass

from common.config import Config
from common.state.board import StatusBoard
from common.state.controls import Controls
from streamer.live import CameraWatch, LiveRuntime


@dataclass
class ApiContext:
    cfg: Config
    controls: Controls
    board: StatusBoard
    live: LiveRuntime

    @property
    def watch(self) -> CameraWatch:
        return self.live.cameras
