"""The rpicam-vid engine: record a camera that has no capture process (no live view).

rpicam-vid owns the camera and writes H.264 elementary-stream chunks (it refuses
``--segment`` with MP4 output on a Pi 5), one per segment, into a hidden work folder
``cam{N}/.rpicam/``.  A chunk is complete once the next one exists (or rpicam-vid has
exited); each complete chunk is remuxed, without re-encoding, into a fragmented MP4 under
its temporary name, renamed to its final name, and deleted.  rpicam-vid is restarted
when it exits.  Chunks left by a crash are remuxed at the next start.

A chunk's times come from the file: its last frame was written at its mtime, so its first
frame was captured ``frames / fps`` earlier.  rpicam-vid starts a new chunk only at a
keyframe, so segments can overrun ``segment_seconds`` by up to one keyframe interval.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Callable

import av

from common.config import Config
from common.ring import RingReader
from common.ring_layout import STREAMS, ring_name
from common.state import Controls, StatusBoard
from recorder.diskguard import DiskGuard
from recorder.encoder import TIME_BASE
from recorder.segmenter import Segmenter, local_time, part_name
from recorder.writer import MUX_OPTIONS, finalise

log = logging.getLogger("recorder")

WORK_DIR = ".rpicam"
POLL_S = 0.2
RESTART_MIN_S, RESTART_MAX_S = 1.0, 10.0
HISTORY = 20


class CameraOwned(Exception):
    """The camera's capture process is running: rpicam-vid cannot have the camera too."""


def remux(chunk: Path, part: Path, fps: int, comment: str) -> int:
    """H.264 elementary stream -> fragmented MP4, no re-encoding; returns the frame count.

    The elementary stream has no timestamps: frames get the nominal rate (rpicam-vid's
    encoders emit no B-frames, so decode order is display order).  A bad packet at the
    end (a chunk cut by a crash) ends the copy instead of failing it.
    """
    period = round(TIME_BASE.denominator / fps)
    frames = 0
    part.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(chunk), format="h264", options={"framerate": str(fps)}) as src:
        in_stream = src.streams.video[0]
        with av.open(str(part), "w", format="mp4", options=MUX_OPTIONS) as dst:
            dst.metadata["comment"] = comment
            out_stream = dst.add_stream_from_template(in_stream)
            out_stream.time_base = TIME_BASE
            try:
                for packet in src.demux(in_stream):
                    if not packet.size:
                        continue
                    packet.stream = out_stream
                    packet.pts = packet.dts = frames * period
                    packet.duration = period
                    packet.time_base = TIME_BASE
                    dst.mux(packet)
                    frames += 1
            except av.InvalidDataError as exc:
                log.warning("remux %s: stopped at a bad packet after %d frames (%s)", chunk.name, frames, exc)
    return frames


class RpicamRecorder:
    def __init__(self, cfg: Config, camera: int, local: Callable[[int], datetime] = local_time) -> None:
        rc = cfg.recorder
        self.cfg, self.camera = cfg, camera
        self.root = cfg.recordings_root
        self.work = self.root / f"cam{camera}" / WORK_DIR
        self.fps = cfg.camera.fps
        self.segmenter = Segmenter(camera, rc.segment_seconds, False, self.fps, local)
        self.guard = DiskGuard(self.root, rc.disk_warn_gb, rc.free_floor_gb, rc.free_target_gb, rc.retention,
                               rc.quota_gb, rc.max_age_days, event_keep_days=rc.event_keep_days)
        self.controls = Controls(cfg.run_dir, cfg.streamer.default_view, cfg.streamer.default_resolution,
                                 cfg.camera.count)
        self.board = StatusBoard(cfg.run_dir)
        self.stopping = False
        self.enabled = True
        self.proc: subprocess.Popen | None = None
        self.run_tag = ""
        self.restarts = 0
        self.restart_at = 0.0
        self.restart_delay = RESTART_MIN_S
        self.started_at = 0.0
        self.segments_written = 0
        self.frames_written = 0
        self.last_error = ""
        self.last_error_at: float | None = None
        self.recent: deque[dict] = deque(maxlen=HISTORY)
        self.recovered: deque[dict] = deque(maxlen=HISTORY)

    def stop(self, *_: object) -> None:
        self.stopping = True

    def check_camera_free(self) -> None:
        reader = RingReader(ring_name(self.cfg.ring.prefix, self.camera, "hd"), self.cfg.ring.stale_seconds)
        try:
            st = reader.status()
        finally:
            reader.close()
        if st.writer_alive:
            raise CameraOwned(f"camera {self.camera} is owned by its capture process (pid {st.writer_pid}); "
                              f"one process per camera: stop capture{self.camera} or use recorder.engine = pyav")

    def command(self, pattern: Path) -> list[str]:
        w, h = STREAMS["hd"]
        rc = self.cfg.recorder
        cmd = [rc.rpicam_vid, "--camera", str(self.camera), "-t", "0", "-n", "--width", str(w), "--height", str(h),
               "--framerate", str(self.fps), "--intra", str(max(1, round(self.fps * rc.keyframe_seconds))),
               "--inline", "--segment", str(self.segment_ms()), "--codec", "h264"]
        if rc.max_bitrate_kbps:
            cmd += ["--bitrate", str(rc.max_bitrate_kbps * 1000)]
        return cmd + ["-o", str(pattern)]

    def segment_ms(self) -> int:
        # rpicam-vid cuts at the first keyframe at least this long after the last cut; half a
        # frame less than the segment lets the keyframe that ends a full segment qualify.
        return self.cfg.recorder.segment_seconds * 1000 - round(500 / self.fps)

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> int:
        log.info("camera %d: recording with %s into %s", self.camera, self.cfg.recorder.rpicam_vid, self.root)
        self.work.mkdir(parents=True, exist_ok=True)
        for chunk in self._chunks(None):  # left by a crash: nothing writes them any more
            self._finish(chunk, recovered=True)
        self.guard.check()
        next_disk = next_status = next_controls = 0.0
        try:
            while not self.stopping:
                now = time.monotonic()
                if now >= next_controls:
                    next_controls = now + 0.25
                    enabled = self.controls.recording_enabled(self.camera)
                    if enabled != self.enabled:
                        log.info("camera %d: recording %s", self.camera, "resumed" if enabled else "paused")
                        self.enabled = enabled
                if now >= next_disk:
                    next_disk = now + self.cfg.recorder.check_seconds
                    self.guard.check()
                if now >= next_status:
                    next_status = now + 1.0
                    self.publish()
                if self.proc is not None and (not self.enabled or self.proc.poll() is not None):
                    self._reap()
                if self.proc is None and self.enabled and now >= self.restart_at:
                    self._spawn()
                self._collect(complete_only=self.proc is not None)
                time.sleep(POLL_S)
        finally:
            if self.proc is not None:
                self._reap()
            self._collect(complete_only=False)
            self.publish(final=True)
        return 0

    def _spawn(self) -> None:
        self.run_tag = f"r{time.time_ns() // 1_000_000}"
        cmd = self.command(self.work / f"{self.run_tag}_%05d.h264")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self._error(f"cannot start {cmd[0]}: {exc}")
            self._backoff()
            return
        self.started_at = time.monotonic()
        log.info("camera %d: started %s (pid %d)", self.camera, " ".join(cmd), self.proc.pid)

    def _reap(self) -> None:
        """Stop rpicam-vid if it runs (SIGINT lets it close its file), and note how it ended."""
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return
        if self.stopping or not self.enabled:
            return
        self._error(f"{self.cfg.recorder.rpicam_vid} exited with code {proc.returncode}; restarting")
        self.restarts += 1
        if time.monotonic() - self.started_at > 30:
            self.restart_delay = RESTART_MIN_S  # it had been running fine: restart at once
        self._backoff()

    def _backoff(self) -> None:
        self.restart_at = time.monotonic() + self.restart_delay
        self.restart_delay = min(RESTART_MAX_S, self.restart_delay * 2)

    def _chunks(self, tag: str | None) -> list[Path]:
        return sorted(p for p in self.work.glob(f"{tag or '*'}_*.h264"))

    def _collect(self, complete_only: bool) -> None:
        chunks = self._chunks(None)
        if complete_only:
            current = self._chunks(self.run_tag)
            if current:
                chunks.remove(current[-1])  # still being written
        for chunk in chunks:
            self._finish(chunk)

    def _finish(self, chunk: Path, recovered: bool = False) -> None:
        try:
            st = chunk.stat()
        except FileNotFoundError:
            return
        if st.st_size == 0:
            chunk.unlink(missing_ok=True)  # rpicam-vid opened it and wrote nothing
            return
        # Name it after the first frame; count frames first (cheap: parse only).
        try:
            frames = _count_frames(chunk)
        except (av.FFmpegError, OSError) as exc:
            self._error(f"{chunk.name}: not readable H.264 ({exc}); left in {self.work}")
            return
        first_wall_ns = st.st_mtime_ns - int(frames * 1e9 / self.fps)
        rel = self.segmenter.rel_path(first_wall_ns)
        part = self.root / part_name(rel)
        try:
            written = remux(chunk, part, self.fps, f"camera={self.camera} engine=rpicam-vid")
            final = finalise(part, self.root / rel)
        except (av.FFmpegError, OSError) as exc:
            self._error(f"remuxing {chunk.name}: {exc}")
            return
        chunk.unlink(missing_ok=True)
        self.segments_written += 1
        self.frames_written += written
        entry = {"file": str(final.relative_to(self.root)), "frames": written,
                 "duration_s": round(written / self.fps, 3), "bytes": final.stat().st_size}
        (self.recovered if recovered else self.recent).append(entry)
        log.info("segment %s: %d frames%s", entry["file"], written, " (recovered after a crash)" if recovered else "")

    def _error(self, message: str) -> None:
        self.last_error, self.last_error_at = message, round(time.time(), 3)
        log.error("camera %d: %s", self.camera, message)

    def status(self) -> dict:
        g = self.guard.state
        running = self.proc is not None and self.proc.poll() is None
        state = "paused" if not self.enabled else ("recording" if running else "error" if self.last_error else "waiting")
        current = self._chunks(self.run_tag)[-1:] if running else []
        return {
            "camera": self.camera, "pid": os.getpid(), "engine": "rpicam-vid", "state": state,
            "recording": running, "enabled": self.enabled, "encoder": "rpicam-vid",
            "rpicam_pid": self.proc.pid if running else None, "rpicam_restarts": self.restarts,
            "segment_seconds": self.cfg.recorder.segment_seconds,
            "current_file": str(current[0].relative_to(self.root)) if current else None,
            "segments_written": self.segments_written, "frames_written": self.frames_written,
            "frames_dropped": 0, "last_error": self.last_error, "last_error_at": self.last_error_at,
            "disk_free_bytes": g.free_bytes, "disk_warning": g.warning, "disk_error": g.error,
            "retention": self.cfg.recorder.retention, "retention_deleted_count": g.deleted_count,
            "retention_deleted_bytes": g.deleted_bytes, "retention_deleted": list(self.guard.deleted),
            "recovered_files": list(self.recovered), "recent_segments": list(self.recent),
        }

    def publish(self, final: bool = False) -> None:
        doc = self.status()
        if final:
            doc.update(state="stopped", recording=False, current_file=None)
        try:
            self.board.publish(f"recorder-cam{self.camera}", doc)
        except OSError as exc:
            log.warning("status: cannot publish: %s", exc)


def _count_frames(chunk: Path) -> int:
    frames = 0
    with av.open(str(chunk), format="h264") as src:
        try:
            for packet in src.demux(src.streams.video[0]):
                if packet.size:
                    frames += 1
        except av.InvalidDataError:
            pass
    return frames
