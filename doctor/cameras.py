"""The cameras: those libcamera lists, their sensor modes, and each configured camera opened
as the capture process opens it, with the rate both streams reach and its colour space.

A camera owned by a running capture process is not opened (one owner per camera): its ring
is measured instead.  Without a Pi camera the same measurement runs on the synthetic source.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from capture.sources import picam
from capture.sources.base import CameraAbsent, CameraFailed, CameraStackBroken, CapturedFrame, Source
from capture.sources.registry import open_source, resolve_kind
from capture.sources.synthetic import SyntheticSource
from common.camera.ports import port
from common.config import Config
from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from common.video.i420 import Planes
from common.video.streams import STREAMS
from doctor.report import Report

MIN_FPS_SHARE = 0.9          # a camera reaching less than this share of camera.fps is a problem
KEEP_FRAMES = 30             # pictures kept from the first camera for the encoder and JPEG checks

Pictures = list[tuple[Planes, Planes]]   # (hd, sd) planes of each picture


def _planes(w: int, h: int) -> Planes:
    return np.zeros((h, w), np.uint8), np.zeros((h // 2, w // 2), np.uint8), np.zeros((h // 2, w // 2), np.uint8)


def _modes(camera: int) -> str:
    """Sensor modes, e.g. '1536x864 @120.1 fps 10-bit; 2304x1296 @56.0 fps 10-bit'."""
    from picamera2 import Picamera2  # only here: it exists on a Pi alone (it needs libcamera)
    cam = Picamera2(camera_num=camera)
    try:
        modes = cam.sensor_modes
    finally:
        cam.close()
    return "; ".join(f"{m['size'][0]}x{m['size'][1]} @{m.get('fps', 0):.1f} fps {m.get('bit_depth', '?')}-bit"
                     for m in modes if "size" in m) or "none reported"


def list_cameras(report: Report) -> int:
    if not picam.installed() or picam.import_error():
        report.add("Pi cameras", "picamera2 not usable: not listed")
        return 0
    from picamera2 import Picamera2  # only here: it exists on a Pi alone (it needs libcamera)
    listed = Picamera2.global_camera_info()
    report.add("Pi cameras", f"{len(listed)} listed by libcamera")
    for number, info in enumerate(listed):
        where = port(str(info.get("Id", "")))
        report.add(f"  camera {number}", f"{info.get('Model', '?')} at {info.get('Id', '?')}"
                                         + (f" ({where})" if where else ""))
    ports = [port(str(info.get("Id", ""))) for info in listed]
    if "CAM1" in ports and "CAM0" not in ports:
        report.add("  numbering", f"cameras are numbered by Id, CAM0's first: the camera on CAM1 is camera "
                                  f"{ports.index('CAM1')} while CAM0 is empty (camera.ids pins one to a connector)")
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
    mode: str = ""               # a Pi camera's sensor mode and field of view, in words
    focus: str = ""
    kept: Pictures = field(default_factory=list)


def owner(cfg: Config, camera: int) -> int:
    """The pid of the running capture process that owns ``camera``, 0 when none does."""
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
        if isinstance(source, picam.PicameraSource):
            m.mode = source.mode.describe() if source.mode else "not reported by the camera"
            m.focus = source.focus
        _capture(source, cfg.camera.capture_timeout).release()   # the first frame may take a while
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            frame = _capture(source, cfg.camera.capture_timeout)
            try:
                frame.fill(hd, sd)
            finally:
                frame.release()
            m.frames += 1
            if keep and len(m.kept) < KEEP_FRAMES:
                m.kept.append((_copy(hd), _copy(sd)))
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


def _capture(source: Source, timeout: float) -> CapturedFrame:
    frame = source.capture(timeout)
    if frame is None:   # only after interrupt(), which the check never calls
        raise CameraFailed("the capture was interrupted")
    return frame


def _copy(planes: Planes) -> Planes:
    y, u, v = planes
    return y.copy(), u.copy(), v.copy()


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
                report.add(f"camera {m.camera} sensor modes", f"not read ({picam.one_line(exc)})")
    threads = []
    for i, m in enumerate(plan):
        pid = owner(cfg, m.camera)
        if pid:
            m.state = "owned"
            m.error = f"owned by the running capture process (pid {pid}); its ring was measured"
            threads.append(threading.Thread(target=_measure_ring, args=(cfg, m, seconds), daemon=True))
        else:
            threads.append(threading.Thread(target=_measure, args=(cfg, m, seconds, i == 0), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for m in plan:
        _report(cfg, report, m)
    return plan


def _report(cfg: Config, report: Report, m: Measured) -> None:
    label = f"camera {m.camera}"
    if m.state in ("absent", "failed"):
        report.problem(label, f"{m.kind}: {m.error}")
        return
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
    if m.mode:
        report.add(f"{label} sensor mode", m.mode)
        report.add(f"{label} focus", m.focus)
    if "limited" in m.colour:
        report.add(f"{label} colours", "the camera gives limited range: the capture expands it (a little CPU)")


def pictures(plan: list[Measured], cfg: Config) -> Pictures:
    """Pictures for the encoder checks: those kept from the first camera measured, else
    synthetic ones."""
    kept = next((m.kept for m in plan if m.kept), [])
    if kept:
        return kept
    source = SyntheticSource(0, cfg.camera.fps)
    source.start()
    made = []
    try:
        for _ in range(KEEP_FRAMES):
            hd, sd = _planes(*STREAMS["hd"]), _planes(*STREAMS["sd"])
            frame = source.capture(2.0)
            frame.fill(hd, sd)
            frame.release()
            made.append((hd, sd))
    finally:
        source.close()
    return made
