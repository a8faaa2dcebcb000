"""The encoders the cameras' pictures go through: H.264 as the recorder would encode 720p
(which encoder it chooses, CPU per frame, real time or not), and JPEG per live view."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

from common.config import Config
from common.video.i420 import Planes
from common.video.streams import STREAMS
from doctor.cameras import Pictures
from doctor.report import Report
from recorder.encode import settings as encoder
from recorder.encode.encoder import Encoder
from recorder.encode.frame import InputFrame
from recorder.segments.writer import SegmentFile

ENCODE_SECONDS = 3           # of video encoded to measure the H.264 encoder's CPU


def check_h264(cfg: Config, report: Report, pictures: Pictures) -> None:
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


def _side_by_side(a: Planes, b: Planes) -> Planes:
    y, u, v = (np.ascontiguousarray(np.hstack((x, z))) for x, z in zip(a, b))
    return y, u, v


def check_jpeg(cfg: Config, report: Report, pictures: Pictures) -> None:
    try:
        # Here, not at the top: a simplejpeg that is missing, too old or built against
        # another numpy (the OS's, on a Pi) is a problem this check reports.
        import simplejpeg
        encode = simplejpeg.encode_jpeg_yuv_planes
    except (ImportError, AttributeError) as exc:
        report.problem("JPEG", f"simplejpeg cannot encode YUV planes ({exc}); simplejpeg 1.8 or later is needed, "
                               f"or Raspberry Pi's python3-simplejpeg")
        return
    hd, sd = pictures[0]
    views = {"480p": sd, "720p": hd, "dual 480p": _side_by_side(sd, sd), "dual 720p": _side_by_side(hd, hd)}
    timings = []
    for name, planes in views.items():
        times = []
        for _ in range(15):
            t0 = time.thread_time()   # CPU time: other programs on the machine do not count
            jpeg = encode(*planes, quality=cfg.streamer.jpeg_quality)
            times.append(time.thread_time() - t0)
        timings.append(f"{name} {median(times) * 1000:.1f} ms ({len(jpeg) // 1000} kB)")
    report.add(f"JPEG per view (quality {cfg.streamer.jpeg_quality}, CPU per frame)", ", ".join(timings))
