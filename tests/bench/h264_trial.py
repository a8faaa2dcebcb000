"""Encoding pictures the way the recorder does, for the benchmarks: its encoder, a new
segment (a forced keyframe) every 30 s of frames, the CPU it took, and the quality of the
result against its source.

CPU is the bench process's own CPU time (user + system, all its threads: libx264's too)
around the recorder's two steps per frame: the copy into the encoder's input frame and the
encode.  SSIM is FFmpeg's ``ssim`` filter (the "All" figure: Y, U and V weighted 4:1:1)
between the decoded stream and the very pictures that were encoded.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from common.video.i420 import planes
from recorder.encode.encoder import Encoder, Output
from recorder.encode.frame import InputFrame
from recorder.encode.settings import EncoderSettings

SEGMENT_S = 30          # the recorder's default segment: each starts with a keyframe
NS = 1_000_000_000


class _Collect(Output):
    def __init__(self) -> None:
        super().__init__()
        self.packets: list[bytes] = []
        self.keyframes = 0

    def write(self, packet: av.Packet[Any], pts: int, mono_ns: int, wall_ns: int) -> None:
        self.packets.append(bytes(packet))
        self.keyframes += bool(packet.is_keyframe)


@dataclass
class Encoded:
    frames: int
    fps: int
    bytes: int = 0
    keyframes: int = 0
    cpu_ms: list[float] = field(default_factory=list)   # CPU per frame, one value per run
    stream: bytes = b""                                  # Annex B: parameter sets, then every access unit
    sizes: list[int] = field(default_factory=list)      # bytes of each access unit, in decode order

    def peak_mbit_s(self, seconds: float = 1.0) -> float:
        """The most any ``seconds`` of consecutive frames took, as Mbit/s."""
        n = max(1, round(seconds * self.fps))
        sums = np.convolve(np.asarray(self.sizes, dtype=np.int64), np.ones(n, dtype=np.int64), "valid")
        return float(sums.max()) * 8 / (n / self.fps) / 1e6 if len(sums) else float("nan")

    @property
    def mbit_s(self) -> float:
        return self.bytes * 8 / (self.frames / self.fps) / 1e6

    @property
    def gb_per_day(self) -> float:
        return self.bytes / (self.frames / self.fps) * 86400 / 1e9


def encode(frames: Sequence[np.ndarray], settings: EncoderSettings, runs: int = 1) -> Encoded:
    """``frames`` (tight I420 arrays) through the recorder's encoder ``runs`` times."""
    w, h, fps = settings.width, settings.height, settings.fps
    seg_frames = SEGMENT_S * fps
    out = Encoded(len(frames), fps)
    for run in range(runs):
        picture = InputFrame()
        encoder = Encoder(settings, 0)
        outputs = [_Collect()]
        encoder.add(outputs[0])
        cpu0 = time.process_time()
        for n, data in enumerate(frames):
            if n and n % seg_frames == 0:   # a segment boundary: the next file starts with a keyframe
                encoder.end(outputs[-1])
                outputs.append(_Collect())
                encoder.add(outputs[-1])
            encoder.encode(picture.fill_planes(*planes(data, w, h)), n * NS // fps)
        encoder.close()
        out.cpu_ms.append((time.process_time() - cpu0) / len(frames) * 1000)
        if run == 0:
            packets = [p for o in outputs for p in o.packets]
            out.sizes = [len(p) for p in packets]
            out.bytes = sum(out.sizes)
            out.keyframes = sum(o.keyframes for o in outputs)
            out.stream = encoder.extradata + b"".join(packets)
    return out


def ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


_ALL = re.compile(r"SSIM Y:([0-9.]+).* All:([0-9.]+)")


def ssim(frames: Sequence[np.ndarray], encoded: Encoded, width: int, height: int, where: Path) -> tuple[float, float]:
    """(SSIM of Y, SSIM "All") of ``encoded`` against ``frames``, its source, frame by frame;
    NaN when FFmpeg is not installed."""
    exe = ffmpeg()
    if exe is None:
        return float("nan"), float("nan")
    where.write_bytes(encoded.stream)
    fps = encoded.fps
    cmd = [exe, "-hide_banner", "-nostats", "-loglevel", "info",
           "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-framerate", str(fps), "-i", "pipe:0",
           "-framerate", str(fps), "-f", "h264", "-i", str(where),
           "-lavfi", f"[0:v]setpts=N/({fps}*TB)[ref];[1:v]setpts=N/({fps}*TB)[dist];[dist][ref]ssim",
           "-f", "null", "-"]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None
        try:
            for data in frames:
                proc.stdin.write(memoryview(data).cast("B"))
        except BrokenPipeError:
            pass   # ffmpeg stopped: its message says why
        finally:
            proc.stdin.close()
        code = proc.wait(timeout=600)
        err.seek(0)
        text = err.read().decode(errors="replace")
    match = _ALL.search(text)
    if code != 0 or match is None:
        raise RuntimeError(f"ffmpeg ssim failed: {text.strip().splitlines()[-1:]}")
    return float(match.group(1)), float(match.group(2))
