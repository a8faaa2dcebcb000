"""Real camera clips for the benchmarks: where they come from, their checksums, and their
frames as the capture makes them.

The clips are public files kept out of the repository, in ``.cache/footage/`` (CI reaches
only the package registries): :func:`missing` says which are absent or not the expected
file, and how to bring them.  :func:`sd_pictures` decodes one with PyAV and turns each
picture into the sd ring's I420 frame exactly as the file source does (the centre 4:3 crop
of the 1280x720 picture, scaled to 640x480), at the camera's frame rate: a clip recorded
at another rate is sampled at its presentation times, as a camera would see the scene.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from capture.sources.av_source import convert
from common.video.i420 import planes
from common.video.streams import STREAMS

FOOTAGE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "footage"


@dataclass(frozen=True)
class Clip:
    file: str        # its name in FOOTAGE_DIR
    sha256: str
    source: str      # where to get it: a public repository and the path in it
    scene: str

    @property
    def path(self) -> Path:
        return FOOTAGE_DIR / self.file


CLIPS = {c.file: c for c in (
    Clip("vtest.avi", "c860e62379d5bd066104516f386487e4adfcf8ddd88af4768c02507d77c79188",
         "GitHub repository lamminhthien/Motion_Detector_OpenCV, file vtest.avi",
         "a hall seen from above, 1280x720 at 50 fps, 13.6 s: dozens of people cross all the time"),
    Clip("one-by-one-person-detection.mp4", "a5964aa259099a482a8b360ffc2c57b5a30f84d5919236a4dad01f8e929ac07c",
         "GitHub repository intel-iot-devkit/sample-videos (CC BY 4.0), file one-by-one-person-detection.mp4",
         "a room with a table, 768x432 at 10 fps, 139 s: six people come in one at a time, "
         "stand at the table and leave, with the room empty in between"),
    Clip("car-detection.mp4", "d31e0ebf194cc16e50eea784e7c3b0b1bb7976a4fb9b3fec26cb92a6704cca34",
         "GitHub repository intel-iot-devkit/sample-videos (CC BY 4.0), file car-detection.mp4",
         "a car park from above, 768x432 at 12.5 fps, 30 s: cars drive through with empty stretches "
         "between them; the camera's exposure jumps when a white car comes in"),
    Clip("issue53_brightness_change.avi", "a211ba0e863a467d8433beea9867b140bfee0bd0505b9c07a0874277cc15a1fa",
         "GitHub repository Breakthrough/DVR-Scan, file tests/resources/issue53_brightness_change.avi",
         "a street camera outdoors, 960x1080 at 12 fps (stretched to 16:9 as the file source does), 4.9 s: "
         "no one, trees and hedges in the sun, the camera's exposure swinging"),
)}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def missing(files: list[str]) -> str:
    """Empty when every named clip is in FOOTAGE_DIR with its checksum; else what to do."""
    problems = []
    for name in files:
        clip = CLIPS[name]
        if not clip.path.is_file():
            problems.append(f"{name} is not in {FOOTAGE_DIR} (bring it from the {clip.source})")
        elif _sha256(clip.path) != clip.sha256:
            problems.append(f"{clip.path} is not the expected file (sha256 should be {clip.sha256})")
    return "; ".join(problems)


@dataclass
class SdPicture:
    """One sd frame of a clip: ``t`` seconds from its start, the I420 planes, and
    ``valid()`` as a ring frame has it (a decoded picture is never overwritten)."""
    t: float
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    mono_ns: int = 0
    wall_ns: int = 0

    def valid(self) -> bool:
        return True


def sd_pictures(clip: Clip, fps: float = 30.0, start_s: float = 0.0, end_s: float = 1e9) -> Iterator[SdPicture]:
    """The clip's sd frames at ``fps`` between ``start_s`` and ``end_s`` (clip time): at each
    tick the newest picture presented by then, as a camera running at ``fps`` would see it."""
    import av
    sd_w, sd_h = STREAMS["sd"]
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        tb = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1000)
        first: float | None = None
        current: SdPicture | None = None
        tick = 0
        for picture in container.decode(stream):
            pts = float(picture.pts * tb) if picture.pts is not None else 0.0
            first = pts if first is None else first
            t = pts - first
            # Hand out the previous picture for every tick before this one is presented.
            while current is not None and (start_s + tick / fps) < t:
                tt = start_s + tick / fps
                if tt >= end_s:
                    return
                yield SdPicture(tt, current.y, current.u, current.v)
                tick += 1
            if t > end_s:
                return
            if t < start_s - 1.0:
                continue   # long before the stretch asked for: not converted
            _, sd = convert(picture)
            y, u, v = planes(sd, sd_w, sd_h)
            interval = t - current.t if current is not None else 1.0 / fps
            current = SdPicture(t, y, u, v)
        # The last picture is shown for one interval of the clip's own, as the ones before it.
        last_t = current.t + interval if current is not None else 0.0
        while current is not None and start_s + tick / fps < min(end_s, last_t) - 1e-9:
            yield SdPicture(start_s + tick / fps, current.y, current.u, current.v)
            tick += 1
