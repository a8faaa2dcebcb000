"""Where low-data viewers are counted: a viewer table of their own, next to MJPEG's.

Light on imports on purpose: the streamer's launcher removes the table at exit, and must
not load the web stack (and its threads) before it lowers its CPU priority.
"""
from __future__ import annotations

from common.config import Config
from streamer.viewers import SHM_DIR, ViewerTable


def table_for(cfg: Config) -> ViewerTable:
    folder = SHM_DIR if SHM_DIR.is_dir() else cfg.run_dir
    return ViewerTable(folder, f"{cfg.ring.prefix}streamer-h264-viewers.json", cfg.streamer.max_h264_clients)
