"""Real camera footage for the benchmarks: which clips, where they come from, and their
pictures as the capture process would deliver them.

The clips are public, but not ours: they are kept in ``.cache/footage/`` (never committed)
and checked by sha256 before use.  ``tests/bench/README.md`` says how to bring each one.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from capture.sources.av_source import Retimer, picture_times
from capture.sources.av_source import convert as convert_hd_sd

FOOTAGE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "footage"


@dataclass(frozen=True)
class Clip:
    name: str          # what the benchmark calls it
    file: str          # under FOOTAGE_DIR
    sha256: str
    scene: str         # what a camera sees in it
    origin: str        # public repository @ commit : path
    licence: str


BUSY = Clip("hall", "vtest.avi", "c860e62379d5bd066104516f386487e4adfcf8ddd88af4768c02507d77c79188",
            "a hall filmed from above by a still camera, several people crossing all the time "
            "(1280x720, 25 fps, 13.6 s)",
            "lamminhthien/Motion_Detector_OpenCV @ 2b00577e69a39688ac7532527b8ff3c9e8c17ff7 : vtest.avi",
            "as published there (OpenCV's sample clip, re-encoded)")
OFFICE = Clip("office", "one-by-one-person-detection.mp4",
              "a5964aa259099a482a8b360ffc2c57b5a30f84d5919236a4dad01f8e929ac07c",
              "an office corner seen by a still camera, one person at a time walking in and out, "
              "empty between them (768x432, 10 fps, 139 s)",
              "intel-iot-devkit/sample-videos @ 57978890822836f2b4743852f04f62fc511757e4 : "
              "one-by-one-person-detection.mp4", "CC BY 4.0")
PARKING = Clip("parking", "car-detection.mp4", "d31e0ebf194cc16e50eea784e7c3b0b1bb7976a4fb9b3fec26cb92a6704cca34",
               "a car park seen from above by a still camera, mostly empty asphalt, now and then a car "
               "(768x432, 12.5 fps, 30 s)",
               "intel-iot-devkit/sample-videos @ 57978890822836f2b4743852f04f62fc511757e4 : car-detection.mp4",
               "CC BY 4.0")
CLIPS = (BUSY, OFFICE, PARKING)


class FootageMissing(Exception):
    """A clip is not in ``.cache/footage`` (or is not the expected file): says how to bring it."""


def path(clip: Clip) -> Path:
    """The clip's file, checked; :class:`FootageMissing` when it is absent or differs."""
    where = FOOTAGE_DIR / clip.file
    how = (f"bring it with: mkdir -p .cache/footage and copy {clip.origin.split(' : ')[1]} from the public "
           f"repository {clip.origin.split(' : ')[0]} to .cache/footage/{clip.file} (tests/bench/README.md)")
    if not where.is_file():
        raise FootageMissing(f"clip {clip.name!r} ({clip.file}) is not in .cache/footage; {how}")
    digest = hashlib.sha256(where.read_bytes()).hexdigest()
    if digest != clip.sha256:
        raise FootageMissing(f"clip {clip.name!r}: .cache/footage/{clip.file} has sha256 {digest}, "
                             f"expected {clip.sha256}; {how}")
    return where


def missing() -> list[str]:
    """Why each absent clip is absent (empty when all are here)."""
    out = []
    for clip in CLIPS:
        try:
            path(clip)
        except FootageMissing as exc:
            out.append(str(exc))
    return out


def pictures(clip: Clip, fps: int, seconds: float | None = None,
             convert: Callable[[av.VideoFrame], np.ndarray] = lambda p: convert_hd_sd(p)[0]) -> list[np.ndarray]:
    """The clip's pictures at ``fps``, as a camera at that rate would have shown them
    (:class:`Retimer`), each made by ``convert`` (by default the capture's hd picture, I420);
    at most ``seconds`` of them.  A picture shown at several ticks is the same array each time."""
    out: list[np.ndarray] = []
    limit = None if seconds is None else round(seconds * fps)
    retimer = Retimer(fps)
    end = 0.0
    with av.open(str(path(clip))) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        last = None
        for time_s, picture in picture_times(container.decode(stream), stream):
            end = time_s + (time_s - last if last is not None else 1.0 / fps)
            last = time_s
            out += retimer.feed(time_s, convert(picture))
            if limit is not None and len(out) >= limit:
                return out[:limit]
    return out + [p for p in retimer.feed(end, None) if p is not None]


def hd_frames(clip: Clip, fps: int = 30, seconds: float | None = None) -> list[np.ndarray]:
    """The hd ring's pictures (I420, 1280x720) a camera at ``fps`` filming the clip gives."""
    return pictures(clip, fps, seconds)


def sd_frames(clip: Clip, fps: int = 30, seconds: float | None = None) -> list[np.ndarray]:
    """The sd ring's pictures (I420, the centre 4:3 crop at 640x480) likewise."""
    return pictures(clip, fps, seconds, lambda p: convert_hd_sd(p)[1])
