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

On a Pi 5 rpicam-vid encodes with libx264 through libav: ``--low-latency`` turns off its
B-frames (the remux writes decode order as display order) and frame threading, and
``--segment`` works there from rpicam-apps 1.8.0, so older releases are refused with a
clear error (the recorder stays up and says so).  Since rpicam-apps 1.8.1 the libav encoder
is a plugin of its own (Raspberry Pi OS package ``rpicam-apps-encoder``, which a Lite image
may lack); without it rpicam-vid on a Pi 5 fails at every start with "Unable to find an
appropriate H.264 codec", so ``--version``'s capability line is read first and a build
without libav is refused the same way.  A PyAV too old to remux is refused too.
"""
from __future__ import annotations

import logging
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import av
from av.container import OutputContainer

from common.archive import segment_name
from common.config import Config
from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from common.state.documents import EngineStatus, RecorderState, SegmentEntry
from common.video.streams import STREAMS
from recorder.encode.settings import TIME_BASE
from recorder.engine import RecorderEngine
from recorder.rpicam_cameras import PinError, camera_args, list_cameras
from recorder.segments.segmenter import local_time
from recorder.segments.writer import MUX_OPTIONS, finalise

log = logging.getLogger("recorder")

WORK_DIR = ".rpicam"
POLL_S = 0.2
RESTART_MIN_S, RESTART_MAX_S = 1.0, 10.0
RAN_FINE_S = 30.0        # rpicam-vid that ran this long before it exited is restarted at once
MIN_VERSION = (1, 8, 0)  # --segment with the libav encoder (every Pi 5)
VERSION_RE = re.compile(r"rpicam-apps build: v?(\d+)\.(\d+)\.(\d+)")
# "rpicam-apps capabilites: egl:1 qt:1 drm:1 libav:1", printed by --version since 1.6.0 (the
# spelling is rpicam-apps' own, core/options.cpp; the right one is accepted too).
LIBAV_RE = re.compile(r"rpicam-apps capabilit\w*:.*\blibav:(\d)")
# Boards whose rpicam-vid encodes H.264 in hardware, without libav (rpicam-apps' VC4 platform).
VC4_MODEL_RE = re.compile(r"Raspberry Pi (Zero|Model|[1-4] |400 |Compute Module [1-4])")
NO_LIBAV = "rpicam-vid has no libav encoder: sudo apt install rpicam-apps-encoder"
REMUX_PYAV = "14.0"      # OutputContainer.add_stream_from_template


@dataclass(frozen=True)
class RpicamBuild:
    """What ``rpicam-vid --version`` says about itself."""

    version: tuple[int, int, int] | None    # None when it cannot be read
    line: str                               # its first line, or why it could not be run
    libav: bool | None                      # the libav encoder is there; None: not said

    @classmethod
    def parse(cls, text: str) -> RpicamBuild:
        found, libav = VERSION_RE.search(text), LIBAV_RE.search(text)
        version = tuple(int(g) for g in found.groups()) if found else None
        return cls(version, (text.strip().splitlines() or [""])[0],  # type: ignore[arg-type]
                   libav.group(1) != "0" if libav else None)


def rpicam_build(exe: str) -> RpicamBuild:
    """Run ``exe --version`` and read it."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return RpicamBuild(None, f"{exe} --version: {exc}", None)
    return RpicamBuild.parse(out.stdout + out.stderr)


def board_model() -> str:
    """The board's model ("Raspberry Pi 5 Model B Rev 1.0"); '' off a Raspberry Pi."""
    try:
        return Path("/proc/device-tree/model").read_text().strip("\x00\n ")
    except OSError:
        return ""


def build_problem(build: RpicamBuild, model: str) -> str:
    """'' when this rpicam-vid can record here, else why not (for the log, status and page)."""
    if build.version is not None and build.version < MIN_VERSION:
        have, need = ".".join(map(str, build.version)), ".".join(map(str, MIN_VERSION))
        return (f"rpicam-vid {have} is too old: --segment with the libav encoder (Raspberry Pi 5) needs "
                f"rpicam-apps {need} or later (sudo apt update && sudo apt full-upgrade)")
    if build.libav is False and not VC4_MODEL_RE.match(model):
        return NO_LIBAV
    return ""


def remux_problem() -> str:
    """'' when this PyAV can remux rpicam-vid's chunks, else what to install."""
    if hasattr(OutputContainer, "add_stream_from_template"):
        return ""
    return (f"PyAV {av.__version__} cannot remux rpicam-vid's H.264: add_stream_from_template needs PyAV "
            f"{REMUX_PYAV} or later (.venv/bin/pip install -r requirements.txt)")


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
                    if not has_picture(bytes(packet)):
                        continue   # a torn tail: parameter sets with no picture after them
                    packet.stream = out_stream
                    packet.pts = packet.dts = frames * period
                    packet.duration = period
                    packet.time_base = TIME_BASE
                    dst.mux(packet)
                    frames += 1
            except av.InvalidDataError as exc:
                log.warning("remux %s: stopped at a bad packet after %d frames (%s)", chunk.name, frames, exc)
    return frames


class RpicamRecorder(RecorderEngine):
    engine = "rpicam-vid"

    def __init__(self, cfg: Config, camera: int, local: Callable[[int], datetime] = local_time) -> None:
        # rpicam-vid cuts chunks by elapsed time: segments are not aligned to the clock.
        super().__init__(cfg, camera, False, local)
        self.work = self.root / segment_name.camera_folder(camera) / WORK_DIR
        self.proc: subprocess.Popen[bytes] | None = None
        self.run_tag = ""
        self.restarts = 0
        self.restart_at = 0.0
        self.restart_delay = RESTART_MIN_S
        self.started_at = 0.0
        self.refused = False     # this rpicam-vid cannot record here: say so, start nothing

    def check_camera_free(self) -> None:
        reader = RingReader(ring_name(self.cfg.ring.prefix, self.camera, "hd"), self.cfg.ring.stale_seconds)
        try:
            st = reader.status()
        finally:
            reader.close()
        if st.writer_alive:
            raise CameraOwned(f"camera {self.camera} is owned by its capture process (pid {st.writer_pid}); "
                              f"one process per camera: stop capture{self.camera} or use recorder.engine = pyav")

    def command(self, pattern: Path, camera: list[str] | None = None) -> list[str]:
        """``camera``: the camera and mode options (rpicam_cameras.camera_args); default --camera N."""
        w, h = STREAMS["hd"]
        rc = self.cfg.recorder
        cmd = [rc.rpicam_vid, *(camera or ["--camera", str(self.camera)]), "-t", "0", "-n",
               "--width", str(w), "--height", str(h), "--framerate", str(self.fps),
               "--intra", str(rc.gop(self.fps)),
               "--inline", "--segment", str(self.segment_ms()), "--codec", "h264", "--low-latency"]
        if rc.max_bitrate_kbps:
            cmd += ["--bitrate", str(rc.max_bitrate_kbps * 1000)]
        return [*cmd, "-o", str(pattern)]

    def segment_ms(self) -> int:
        # rpicam-vid cuts at the first keyframe at least this long after the last cut; half a
        # frame less than the segment lets the keyframe that ends a full segment qualify.
        return self.cfg.recorder.segment_seconds * 1000 - round(500 / self.fps)

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> int:
        self.publish()   # "waiting", at once: the page says starting while rpicam-vid is checked and started
        exe = self.cfg.recorder.rpicam_vid
        build = rpicam_build(exe)
        problem = build_problem(build, board_model()) or remux_problem()
        if build.version is None:
            log.warning("camera %d: cannot tell the rpicam-vid version (%s); rpicam-apps %s or later is needed",
                        self.camera, build.line or "no output", ".".join(map(str, MIN_VERSION)))
        log.info("camera %d: recording with %s (%s) into %s", self.camera, exe, build.line or "version unknown",
                 self.root)
        if problem:
            self.note_error(problem)
            self.refused = True
            return self._refused()
        if not self.wait_for_disk():
            self.publish(final=True)
            return 0
        self.work.mkdir(parents=True, exist_ok=True)
        for chunk in self._chunks(None):  # left by a crash: nothing writes them any more
            self._finish(chunk, recovered=True)
        self.reconcile()
        self.retention.start()
        try:
            while not self.stopping:
                now = time.monotonic()
                self.tick(now)
                if self.proc is not None and (not self.may_record or self.proc.poll() is not None):
                    self._reap()
                if self.proc is None and self.may_record and now >= self.restart_at:
                    self._spawn()
                self._collect(complete_only=self.proc is not None)
                time.sleep(POLL_S)
        finally:
            if self.proc is not None:
                self._reap()
            self._collect(complete_only=False)
            self.retention.close()
            self.indexer.close()
            self.publish(final=True)
        return 0

    def _refused(self) -> int:
        """Stay up (no crash loop) and keep reporting why nothing is recorded."""
        while not self.stopping:
            self.tick(time.monotonic())
            time.sleep(POLL_S)
        self.publish(final=True)
        return 0

    def _spawn(self) -> None:
        # Listed afresh at every start: a camera pinned by camera.ids may have been plugged
        # in meanwhile, and the numbering changes with what is connected.
        cameras, _ = list_cameras(self.cfg.recorder.rpicam_vid)
        try:
            camera = camera_args(cameras, self.camera, self.cfg.camera_id(self.camera), STREAMS["hd"], self.fps)
        except PinError as exc:
            self.note_error(str(exc))
            self._backoff()
            return
        self.run_tag = f"r{time.time_ns() // 1_000_000}"
        cmd = self.command(self.work / f"{self.run_tag}_%05d.h264", camera)
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self.note_error(f"cannot start {cmd[0]}: {exc}")
            self._backoff()
            return
        self.started_at = time.monotonic()
        log.info("camera %d: started %s (pid %d)", self.camera, " ".join(cmd), self.proc.pid)

    def _reap(self) -> None:
        """Stop rpicam-vid if it runs (SIGINT lets it close its file), and note how it ended."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            return
        if self.stopping or not self.may_record:
            return
        self.note_error(f"{self.cfg.recorder.rpicam_vid} exited with code {proc.returncode}; restarting")
        self.restarts += 1
        if time.monotonic() - self.started_at > RAN_FINE_S:
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
        if not self.disk_present():
            return   # the chunk waits for its disk
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
            self.note_error(f"{chunk.name}: not readable H.264 ({exc}); left in {self.work}")
            return
        if frames == 0:   # rpicam-vid was stopped before its first picture: nothing was recorded
            log.warning("%s: no picture in %d bytes; removed", chunk.name, st.st_size)
            chunk.unlink(missing_ok=True)
            return
        first_wall_ns = st.st_mtime_ns - int(frames * 1e9 / self.fps)
        rel = self.segmenter.rel_path(first_wall_ns)
        part = self.root / segment_name.part_path(rel)
        try:
            written = remux(chunk, part, self.fps, f"camera={self.camera} engine=rpicam-vid")
            final = finalise(part, self.root / rel)
        except AttributeError as exc:   # a PyAV whose remux API differs: say which one is needed
            self.note_error(f"remuxing {chunk.name}: {remux_problem() or exc}")
            return
        except (av.FFmpegError, OSError) as exc:
            self.note_error(f"remuxing {chunk.name}: {exc}")
            return
        chunk.unlink(missing_ok=True)
        self.segments_written += 1
        self.frames_written += written
        size = final.stat().st_size
        self.segment_done(final, first_wall_ns / 1e9, written / self.fps, size)
        entry: SegmentEntry = {"file": str(final.relative_to(self.root)), "frames": written,
                               "duration_s": round(written / self.fps, 3), "bytes": size}
        (self.recovered if recovered else self.recent).append(entry)
        usual = not recovered and self.segments_written > 1   # the first and the unusual ones: see recording.py
        log.log(logging.DEBUG if usual else logging.INFO, "segment %s: %d frames%s", entry["file"], written,
                " (recovered after a crash)" if recovered else "")

    def state(self) -> RecorderState:
        if self.refused:
            return "error"
        if not self.enabled:
            return "paused"
        return "recording" if self._running() else "error" if self.last_error else "waiting"

    def _running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def engine_status(self) -> EngineStatus:
        running = self._running()
        current = self._chunks(self.run_tag)[-1:] if running else []
        return {
            "recording": running, "encoder": "rpicam-vid",
            "rpicam_pid": self.proc.pid if running and self.proc is not None else None,
            "rpicam_restarts": self.restarts,
            "current_file": str(current[0].relative_to(self.root)) if current else None,
            "frames_dropped": 0,
        }


def _count_frames(chunk: Path) -> int:
    """The coded pictures in a chunk: a chunk cut right after its parameter sets holds none."""
    frames = 0
    with av.open(str(chunk), format="h264") as src:
        try:
            for packet in src.demux(src.streams.video[0]):
                if has_picture(bytes(packet)):
                    frames += 1
        except av.InvalidDataError:
            pass
    return frames


def has_picture(data: bytes) -> bool:
    """Does an Annex B access unit hold a coded slice (NAL types 1 to 5), not only SPS, PPS or SEI?"""
    at = data.find(b"\x00\x00\x01")
    while at >= 0 and at + 3 < len(data):
        if 1 <= data[at + 3] & 0x1F <= 5:
            return True
        at = data.find(b"\x00\x00\x01", at + 3)
    return False
