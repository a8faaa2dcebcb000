"""The encoders the cameras' pictures go through: H.264 as the recorder would encode 720p
(which encoder it chooses, CPU per frame, real time or not), and JPEG per live view."""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
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
    settings = encoder.EncoderSettings.of(rc, codec, w, h, fps)
    frames = ENCODE_SECONDS * fps
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "check.mp4"
        buffer = InputFrame()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        h264 = Encoder(settings, 0)
        writer = SegmentFile(path, h264, "check")
        h264.add(writer)
        for n in range(frames):
            h264.encode(buffer.fill_planes(*pictures[n % len(pictures)][0]), int(n * 1e9 / fps))
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


def jpeg_views(pictures: Sequence[tuple[Planes, Planes]], quality: int, repeats: int = 1,
               ) -> dict[str, tuple[float, int]]:
    """Per live view, (median CPU ms, median bytes) of one JPEG, over ``pictures`` (hd, sd)
    each encoded ``repeats`` times.  CPU time of this thread: other programs do not count."""
    import simplejpeg  # here: the self-check reports a missing one instead of failing to import
    out = {}
    for name, view in VIEWS.items():
        times, sizes = [], []
        for hd, sd in pictures:
            planes = view(hd, sd)
            for _ in range(repeats):
                t0 = time.thread_time()
                jpeg = simplejpeg.encode_jpeg_yuv_planes(*planes, quality=quality)
                times.append(time.thread_time() - t0)
                sizes.append(len(jpeg))
        out[name] = (median(times) * 1000, int(median(sizes)))
    return out


VIEWS: dict[str, Callable[[Planes, Planes], Planes]] = {
    "480p": lambda hd, sd: sd, "720p": lambda hd, sd: hd,
    "dual 480p": lambda hd, sd: _side_by_side(sd, sd), "dual 720p": lambda hd, sd: _side_by_side(hd, hd)}


def check_jpeg(cfg: Config, report: Report, pictures: Pictures) -> None:
    try:
        # A simplejpeg that is missing, too old or built against another numpy (the OS's, on
        # a Pi) is a problem this check reports.
        import simplejpeg
        simplejpeg.encode_jpeg_yuv_planes  # noqa: B018 (1.8 or later has it)
    except (ImportError, AttributeError) as exc:
        report.problem("JPEG", f"simplejpeg cannot encode YUV planes ({exc}); simplejpeg 1.8 or later is needed, "
                               f"or Raspberry Pi's python3-simplejpeg")
        return
    timings = [f"{name} {ms:.1f} ms ({size // 1000} kB)"
               for name, (ms, size) in jpeg_views(pictures[:1], cfg.streamer.jpeg_quality, repeats=15).items()]
    report.add(f"JPEG per view (quality {cfg.streamer.jpeg_quality}, CPU per frame)", ", ".join(timings))
