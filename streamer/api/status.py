"""What the streamer reports: cameras, views, viewers, controls, recorders.

Viewers and views come from the shared viewer table, so any worker answers for all of
them; this worker's own viewers are taken live rather than from its last table write.
"""
from __future__ import annotations

import os
import time
from typing import Any

from common.config import Config
from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from common.process.pids import pid_alive
from common.state.board import StatusBoard, capture_status_name
from common.state.controls import Controls
from streamer.live.viewers import ViewerTable
from streamer.params import RESOLUTIONS, cameras, view_cameras

LIVE_AGE_S = 1.0
# Capture states that explain a camera without pictures (published by the capture process).
EXPLAINED = ("not connected", "off", "error")
RECORDER_STALE_S = 5.0   # a recorder status older than this means the recorder is not running


class CameraWatch:
    """Ring readers used only for status and heartbeats (on the event loop thread)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._readers: dict[tuple[int, str], RingReader] = {}
        self._board = StatusBoard(cfg.run_dir)

    def reader(self, cam: int, stream: str) -> RingReader:
        key = (cam, stream)
        if key not in self._readers:
            self._readers[key] = RingReader(ring_name(self.cfg.ring.prefix, cam, stream), self.cfg.ring.stale_seconds)
        return self._readers[key]

    def camera(self, cam: int, stream: str = "sd") -> dict[str, Any]:
        st = self.reader(cam, stream).status()
        age = st.frame_age_s
        live = st.live(LIVE_AGE_S)
        state, reason = self.capture_state(cam, live)
        return {"name": st.camera_name or self.cfg.camera_name(cam), "source": st.source or None,
                "live": live, "writer_alive": st.writer_alive, "fps": round(st.fps, 2),
                "frames": st.frames, "drops": st.drops,
                "frame_age_ms": None if age is None else round(age * 1000, 1), "restarts": st.restarts,
                "error": st.error or None, "state": state, "reason": reason}

    def capture_state(self, cam: int, live: bool) -> tuple[str, str | None]:
        """live | not connected | off | error | no signal, and why (for the page and /api/health)."""
        if live:
            return "live", None
        doc = self._board.read(capture_status_name(cam)) or {}
        state = doc.get("state")
        # An error outlives its process (it exited 2 and stays down); the others need it running.
        if state in EXPLAINED and (state == "error" or pid_alive(int(doc.get("pid") or 0))):
            return str(state), str(doc.get("reason") or "") or None
        return "no signal", None

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


def recorder_docs(cfg: Config, board: StatusBoard) -> dict[str, Any]:
    return {cam: board.read(f"recorder-cam{cam}") for cam in cameras(cfg)}


def merge_views(table: dict[str, Any], local: list[dict[str, Any]], viewers: list[dict[str, Any]]
                ) -> list[dict[str, Any]]:
    """One line per (view, resolution) over all workers: each encodes the same frames."""
    per_worker = [w.get("views", []) for key, w in table.get("workers", {}).items() if key != str(os.getpid())]
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for stats in [local] + per_worker:
        for v in stats:
            if not isinstance(v, dict) or not v.get("encoding"):
                continue
            key = (v.get("view"), v.get("res"))
            m = merged.setdefault(key, {"view": key[0], "res": key[1], "viewers": 0, "fps": 0.0,
                                        "fps_encoded": 0.0, "avg_jpeg_bytes": 0, "encode_ms": 0.0,
                                        "anomalies": 0, "frames_encoded": 0, "encoders": 0})
            n = m["encoders"]
            m["fps_encoded"] = max(m["fps_encoded"], v.get("fps", 0.0))
            m["avg_jpeg_bytes"] = int((m["avg_jpeg_bytes"] * n + v.get("avg_jpeg_bytes", 0)) / (n + 1))
            m["encode_ms"] = round((m["encode_ms"] * n + v.get("encode_ms", 0.0)) / (n + 1), 2)
            m["anomalies"] += v.get("anomalies", 0)
            m["frames_encoded"] += v.get("frames_encoded", 0)
            m["encoders"] = n + 1
    for key, m in merged.items():
        mine = [r for r in viewers if (r.get("view"), r.get("res")) == key]
        m["viewers"] = len({r.get("address") for r in mine})
        m["streams"] = len(mine)
        m["fps"] = round(sum(r.get("fps", 0.0) for r in mine) / len(mine), 2) if mine else 0.0
    return sorted(merged.values(), key=lambda m: (m["res"], m["view"]))


def full_status(cfg: Config, watch: CameraWatch, controls: Controls, board: StatusBoard,
                table: dict[str, Any], local_rows: list[dict[str, Any]], local_views: list[dict[str, Any]]
                ) -> dict[str, Any]:
    pid = os.getpid()
    rows = [r for r in table.get("viewers", []) if r.get("pid") != pid]
    rows += [{**r, "pid": pid} for r in local_rows]
    viewers = [{k: r.get(k) for k in ("address", "view", "res", "since", "fps", "bytes_sent", "latency_ms",
                                      "latency_p50_ms", "latency_p99_ms", "pid")} for r in rows]
    by_res = ViewerTable.holders_by_res(rows)
    return {
        "time": time.time(),
        "worker_pid": pid,
        "cameras": {str(cam): watch.camera(cam) for cam in range(cfg.camera.count)},
        "views": merge_views(table, local_views, rows),
        "viewers": viewers,
        "limits": {"max_clients_per_resolution": cfg.streamer.max_clients_per_resolution,
                   "viewers_by_res": by_res},
        "controls": controls.get(),
        "recorders": recorder_docs(cfg, board),
    }


def recorder_state(doc: dict[str, Any] | None) -> str:
    if not doc or doc.get("age_s", RECORDER_STALE_S) >= RECORDER_STALE_S:
        return "not running"
    return str(doc.get("state", "unknown"))


def recording_status(cfg: Config, watch: CameraWatch, controls: Controls, board: StatusBoard) -> dict[str, Any]:
    flags = controls.get()["recording"]
    out = {}
    for cam in cameras(cfg):
        doc = board.read(f"recorder-cam{cam}")
        state = recorder_state(doc)
        out[f"camera_{cam}"] = {"recording": bool(flags.get(cam, True)) and state == "recording",
                                "camera_active": watch.camera(int(cam))["live"], "status": state,
                                "enabled": bool(flags.get(cam, True))}
    return out


def legacy_stats(cfg: Config, watch: CameraWatch, controls: Controls, views: list[dict[str, Any]],
                 by_res: dict[str, int], addresses: int, last_camera: int = 0) -> dict[str, Any]:
    ctrl = controls.get()
    view, res = ctrl["view"], ctrl["resolution"]
    current = next((v for v in views if v["view"] == view and v["res"] == res), None)
    cam = last_camera if view == "dual" else int(view)
    recording = any(ctrl["recording"].values())
    fps = current["fps_encoded"] if current else watch.camera(cam)["fps"]
    return {
        "current_camera": cam,
        "dual_mode": view == "dual",
        "resolution": RESOLUTIONS[res].legacy if res in RESOLUTIONS else res,
        "codec": "mjpeg",
        "quality": cfg.streamer.jpeg_quality,
        "engine": "simplejpeg",
        "active_clients": addresses,
        "active_clients_by_resolution": by_res,
        "max_clients": cfg.streamer.max_clients_per_resolution,
        "recording_enabled": recording,
        "stats": {"frame_count": current["frames_encoded"] if current else 0,
                  "avg_frame_size": current["avg_jpeg_bytes"] if current else 0,
                  "fps": fps, "last_update": time.time(), "recording": recording},
    }
