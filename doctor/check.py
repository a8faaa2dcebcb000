"""``python -m capture --check``: a self-check to run on the Pi and paste into an issue.

It lists the cameras and their sensor modes, opens each camera with the project's own
configuration, measures the rate both streams achieve, reports the colour space, the H.264
encoder the recorder would choose and its CPU at 720p, the JPEG time per view, free disk
and the versions of the libraries the camera path depends on.  Without a Pi camera the
same checks run on the synthetic source.  A camera owned by a running capture process is
not opened (one owner per camera): its ring is measured instead.  Exit 0 when everything
needed works, 1 otherwise.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, Callable

import numpy as np

from capture.sources.base import CameraAbsent, CameraFailed, CameraStackBroken, Planes
from capture.sources.registry import open_source, resolve_kind
from common.config import Config
from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from common.video.streams import STREAMS

MIN_FPS_SHARE = 0.9          # a camera reaching less than this share of camera.fps is a problem
KEEP_FRAMES = 30             # pictures kept from the first camera for the encoder and JPEG checks
ENCODE_SECONDS = 3           # of video encoded to measure the H.264 encoder's CPU


@dataclass
class Report:
    """The lines to print, and the problems that make the exit code 1."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    out: Callable[[str], None] = print

    def add(self, label: str, text: str) -> None:
        line = f"{label}: {text}"
        self.lines.append(line)
        self.out(line)

    def problem(self, label: str, text: str) -> None:
        self.problems.append(f"{label}: {text}")
        self.add(label, f"PROBLEM: {text}")


def _planes(w: int, h: int) -> Planes:
    return np.zeros((h, w), np.uint8), np.zeros((h // 2, w // 2), np.uint8), np.zeros((h // 2, w // 2), np.uint8)


# -- versions ----------------------------------------------------------------------------------
def _where(module: Any) -> str:
    path = str(getattr(module, "__file__", "") or "")
    if sys.prefix != sys.base_prefix and path.startswith(sys.prefix):
        return "venv"
    if "/dist-packages/" in path or path.startswith("/usr/lib/python3"):
        return "OS"
    return "site-packages" if "site-packages" in path else (path or "?")


def _command_line(cmd: list[str], prefix: str) -> str:
    """The rest of the first output line starting with ``prefix`` ('' when the command fails)."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode != 0:
        return ""
    return next((line[len(prefix):].strip() for line in out.stdout.splitlines() if line.startswith(prefix)), "")


def versions(report: Report) -> None:
    from capture.sources import picam
    found = {}
    for name in ("numpy", "simplejpeg", "av"):
        try:
            module = __import__(name)
            found[name] = _where(module)
            extra = ""
            if name == "av":
                ffmpeg = getattr(module, "ffmpeg_version_info", "")
                extra = f", FFmpeg {ffmpeg}" if ffmpeg else ""
            report.add(name if name != "av" else "PyAV", f"{module.__version__} ({found[name]}{extra})")
        except Exception as exc:
            report.problem(name, f"cannot be imported: {picam.one_line(exc)}")
    if picam.installed():
        error = picam.import_error()
        if error:
            report.problem("picamera2", f"installed but cannot be imported: {error}")
        else:
            from importlib.metadata import PackageNotFoundError, version

            import picamera2
            try:
                v = version("picamera2")
            except PackageNotFoundError:
                v = "?"
            report.add("picamera2", f"{v} ({_where(picamera2)})")
    else:
        report.add("picamera2", "not installed")
    libcamera = _command_line(["rpicam-hello", "--version"], "libcamera build:") or \
        _command_line(["dpkg-query", "-W", "-f", "${Version}\n", "python3-libcamera"], "")
    report.add("libcamera", libcamera or "not found")
    if found.get("numpy") == "venv" and found.get("simplejpeg") == "OS":
        report.problem("numpy", "the venv has its own numpy but simplejpeg comes from the OS, which was built "
                                "against the OS's numpy: remove the venv's (.venv/bin/pip uninstall numpy)")


# -- cameras -----------------------------------------------------------------------------------
def _modes(camera: int) -> str:
    """Sensor modes, e.g. '1536x864 @120.1 fps 10-bit; 2304x1296 @56.0 fps 10-bit'."""
    from picamera2 import Picamera2
    cam = Picamera2(camera_num=camera)
    try:
        modes = cam.sensor_modes
    finally:
        cam.close()
    return "; ".join(f"{m['size'][0]}x{m['size'][1]} @{m.get('fps', 0):.1f} fps {m.get('bit_depth', '?')}-bit"
                     for m in modes if "size" in m) or "none reported"


def list_cameras(report: Report) -> int:
    from capture.sources import picam
    if not picam.installed() or picam.import_error():
        report.add("Pi cameras", "picamera2 not usable: not listed")
        return 0
    from picamera2 import Picamera2
    listed = Picamera2.global_camera_info()
    report.add("Pi cameras", f"{len(listed)} listed by libcamera")
    for info in listed:
        report.add(f"  camera {info.get('Num')}", f"{info.get('Model', '?')} at {info.get('Id', '?')}")
    return len(listed)


@dataclass
class Measured:
    camera: int
    kind: str
    why: str
    frames: int = 0
    seconds: float = 0.0
    missed: int = 0
    colour: str = ""
    error: str = ""
    state: str = "ok"            # ok | absent | failed | owned
    kept: list[tuple[Planes, Planes]] = field(default_factory=list)


def _owner(cfg: Config, camera: int) -> int:
    reader = RingReader(ring_name(cfg.ring.prefix, camera, "hd"), cfg.ring.stale_seconds)
    try:
        st = reader.status()
        return st.writer_pid if st.writer_alive else 0
    finally:
        reader.close()


def _measure_ring(cfg: Config, m: Measured, seconds: float) -> None:
    reader = RingReader(ring_name(cfg.ring.prefix, m.camera, "hd"), cfg.ring.stale_seconds)
    try:
        first = reader.status().last_index
        time.sleep(seconds)
        m.frames, m.seconds = reader.status().last_index - first, seconds
    finally:
        reader.close()


def _measure(cfg: Config, m: Measured, seconds: float, keep: bool) -> None:
    """Open the camera as the capture process does and count frames of both streams."""
    source = None
    hd, sd = _planes(*STREAMS["hd"]), _planes(*STREAMS["sd"])
    try:
        source = open_source(m.kind, m.camera, cfg)
        source.start()
        m.colour = getattr(source, "colour_space", "") or "full-range BT.601 (drawn in the rings' convention)"
        source.capture(cfg.camera.capture_timeout).release()   # the first frame may take a while
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            frame = source.capture(cfg.camera.capture_timeout)
            try:
                frame.fill(hd, sd)
            finally:
                frame.release()
            m.frames += 1
            if keep and len(m.kept) < KEEP_FRAMES:
                m.kept.append((tuple(p.copy() for p in hd), tuple(p.copy() for p in sd)))
        m.seconds = time.monotonic() - t0
        m.missed = int(getattr(source, "missed", 0))
    except CameraAbsent as exc:
        m.state, m.error = "absent", str(exc)
    except (CameraFailed, CameraStackBroken) as exc:
        m.state, m.error = "failed", str(exc)
    except Exception as exc:  # the check reports whatever goes wrong, it never dies of it
        m.state, m.error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        if source is not None:
            source.close()


def check_cameras(cfg: Config, report: Report, seconds: float) -> list[Measured]:
    plan: list[Measured] = []
    for camera in range(cfg.camera.count):
        try:
            kind, why = resolve_kind(cfg, camera)
        except CameraStackBroken as exc:
            report.problem(f"camera {camera}", str(exc))
            kind, why = "synthetic", "the checks run on the synthetic source instead"
        plan.append(Measured(camera, kind, why))
    for m in plan:
        if m.kind == "picamera2":
            try:
                report.add(f"camera {m.camera} sensor modes", _modes(m.camera))
            except Exception as exc:
                from capture.sources.picam import one_line
                report.add(f"camera {m.camera} sensor modes", f"not read ({one_line(exc)})")
    threads = []
    for i, m in enumerate(plan):
        owner = _owner(cfg, m.camera)
        if owner:
            m.state = "owned"
            m.error = f"owned by the running capture process (pid {owner}); its ring was measured"
            target = (_measure_ring, (cfg, m, seconds))
        else:
            target = (_measure, (cfg, m, seconds, i == 0))
        threads.append(threading.Thread(target=target[0], args=target[1], daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for m in plan:
        label = f"camera {m.camera}"
        if m.state in ("absent", "failed"):
            report.problem(label, f"{m.kind}: {m.error}")
            continue
        fps = m.frames / m.seconds if m.seconds else 0.0
        text = (f"{m.kind} ({m.why}): hd {STREAMS['hd'][0]}x{STREAMS['hd'][1]} and sd {STREAMS['sd'][0]}x"
                f"{STREAMS['sd'][1]} at {fps:.2f} fps each over {m.seconds:.1f} s (camera.fps = {cfg.camera.fps})")
        if m.state == "owned":
            text += f"; {m.error}"
        else:
            text += f", {m.missed} frames missed at the sensor; colour space {m.colour}"
        if fps < MIN_FPS_SHARE * cfg.camera.fps:
            report.problem(label, text)
        else:
            report.add(label, text)
        if "limited" in m.colour:
            report.add(f"{label} colours", "the camera gives limited range: the capture expands it (a little CPU)")
    return plan


# -- encoders ----------------------------------------------------------------------------------
def _pictures(plan: list[Measured], cfg: Config) -> list[tuple[Planes, Planes]]:
    kept = next((m.kept for m in plan if m.kept), [])
    if kept:
        return kept
    from capture.sources.synthetic import SyntheticSource
    source = SyntheticSource(0, cfg.camera.fps)
    source.start()
    pictures = []
    try:
        for _ in range(KEEP_FRAMES):
            hd, sd = _planes(*STREAMS["hd"]), _planes(*STREAMS["sd"])
            frame = source.capture(2.0)
            frame.fill(hd, sd)
            frame.release()
            pictures.append((hd, sd))
    finally:
        source.close()
    return pictures


def check_h264(cfg: Config, report: Report, pictures: list[tuple[Planes, Planes]]) -> None:
    from recorder.encode import settings as encoder
    from recorder.encode.encoder import Encoder
    from recorder.encode.frame import InputFrame
    from recorder.segments.writer import SegmentFile
    rc, fps = cfg.recorder, cfg.camera.fps
    w, h = STREAMS["hd"]
    codec, why = encoder.choose(rc.encoder, w, h, fps)
    settings = encoder.EncoderSettings(codec=codec, width=w, height=h, fps=fps,
                                       gop=max(1, round(fps * rc.keyframe_seconds)), preset=rc.preset, tune=rc.tune,
                                       crf=rc.crf, max_kbps=rc.max_bitrate_kbps, threads=rc.threads)
    frames = ENCODE_SECONDS * fps
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "check.mp4"
        buffer = InputFrame()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        h264 = Encoder(settings, 0)
        writer = SegmentFile(path, h264, "check")
        h264.add(writer)
        for n in range(frames):
            h264.encode(buffer.fill(*pictures[n % len(pictures)][0]), int(n * 1e9 / fps))
        h264.close()
        writer.close()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        size = path.stat().st_size
    per_frame = cpu / frames
    report.add("H.264 encoder", f"{codec} ({why})")
    report.add("H.264 at 720p", f"{per_frame * 1000:.1f} ms CPU per frame = {per_frame * fps * 100:.0f}% of one core "
                                f"at {fps} fps per camera ({rc.preset}, crf {rc.crf}, {frames} frames in {wall:.1f} s, "
                                f"{size * 8 / ENCODE_SECONDS / 1e6:.1f} Mbit/s on these pictures)")
    if wall > ENCODE_SECONDS:
        report.problem("H.264 at 720p", f"slower than real time: {frames} frames took {wall:.1f} s")


def check_jpeg(cfg: Config, report: Report, pictures: list[tuple[Planes, Planes]]) -> None:
    try:
        import simplejpeg
        encode = simplejpeg.encode_jpeg_yuv_planes
    except (ImportError, AttributeError) as exc:
        report.problem("JPEG", f"simplejpeg cannot encode YUV planes ({exc}); simplejpeg 1.8 or later is needed, "
                               f"or Raspberry Pi's python3-simplejpeg")
        return
    hd, sd = pictures[0]
    dual = lambda a, b: tuple(np.ascontiguousarray(np.hstack((x, y))) for x, y in zip(a, b))  # noqa: E731
    views = {"480p": sd, "720p": hd, "dual 480p": dual(sd, sd), "dual 720p": dual(hd, hd)}
    timings = []
    for name, planes in views.items():
        times = []
        for _ in range(15):
            t0 = time.thread_time()   # CPU time: other programs on the machine do not count
            jpeg = encode(*planes, quality=cfg.streamer.jpeg_quality)
            times.append(time.thread_time() - t0)
        timings.append(f"{name} {median(times) * 1000:.1f} ms ({len(jpeg) // 1000} kB)")
    report.add(f"JPEG per view (quality {cfg.streamer.jpeg_quality}, CPU per frame)", ", ".join(timings))


def check_disk(cfg: Config, report: Report) -> None:
    root = cfg.recordings_root
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free / 1e9
    text = f"{free:.1f} GB free under {root} (recorder.free_floor_gb = {cfg.recorder.free_floor_gb:g})"
    if free < cfg.recorder.free_floor_gb:
        report.problem("disk", text)
    else:
        report.add("disk", text)


def check_rpicam(cfg: Config, report: Report) -> None:
    from recorder.rpicam import rpicam_version, version_problem
    exe = cfg.recorder.rpicam_vid
    if cfg.recorder.engine != "rpicam-vid" and shutil.which(exe) is None:
        return
    version, line = rpicam_version(exe)
    problem = version_problem(version)
    if cfg.recorder.engine == "rpicam-vid" and (problem or version is None):
        report.problem("rpicam-vid", problem or f"cannot be run: {line}")
    else:
        report.add("rpicam-vid", f"{line or 'version unknown'}{'; ' + problem if problem else ''}")


def check_devices(report: Report) -> None:
    from capture.sources.devices import usb_webcams, video_devices
    devices = video_devices()
    shown = ", ".join(f"{d.node} {d.driver or '?'}" for d in devices[:12]) or "none"
    report.add("video devices", shown + (" ..." if len(devices) > 12 else ""))
    webcams = usb_webcams()
    if webcams:
        report.add("USB webcams", f"{', '.join(webcams)} (for camera.v4l2_devices)")


def _machine() -> str:
    model = ""
    try:
        model = Path("/proc/device-tree/model").read_text().strip("\x00\n ")
    except OSError:
        pass
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.lower().startswith(("model name", "hardware"))), platform.machine())
    return f"{model or 'not a Raspberry Pi'}; {cpu}, {os.cpu_count()} CPUs; {platform.platform()}"


def run(cfg: Config, seconds: float = 10.0, out: Callable[[str], None] = print) -> int:
    report = Report(out=out)
    out(f"SHT Dual LIVE Camera self-check, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    report.add("machine", _machine())
    report.add("Python", f"{platform.python_version()} ({sys.executable})")
    versions(report)
    list_cameras(report)
    plan = check_cameras(cfg, report, seconds)
    pictures = _pictures(plan, cfg)
    check_h264(cfg, report, pictures)
    check_jpeg(cfg, report, pictures)
    check_disk(cfg, report)
    check_rpicam(cfg, report)
    check_devices(report)
    if report.problems:
        out(f"RESULT: {len(report.problems)} problem(s): " + " | ".join(report.problems))
        return 1
    out("RESULT: OK, everything needed works")
    return 0
