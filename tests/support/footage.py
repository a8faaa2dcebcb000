"""Real camera clips for the benchmarks: which clips, where they come from, their checksums,
and their pictures as the capture process would deliver them.

The clips are public, but not ours: they are kept in ``.cache/footage/`` (never committed;
CI reaches only the package registries) and checked by sha256 before use.
:func:`missing` says which are absent or not the expected file, and how to bring them
(``tests/bench/README.md`` too).  :func:`hd_frames` / :func:`sd_frames` give a clip's pictures
as the file camera shows them (:class:`~capture.sources.av_source.Retimer`);
:func:`sd_pictures` gives the sd frames lazily, with their times, for the motion watch.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from capture.sources.av_source import Retimer, convert, picture_times
from common.video.i420 import planes
from common.video.streams import STREAMS

FOOTAGE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "footage"


@dataclass(frozen=True)
class Clip:
    file: str          # its name in FOOTAGE_DIR
    sha256: str
    source: str        # where to get it: a public repository @ commit : its path there (and licence)
    scene: str         # what a camera sees in it
    name: str = ""     # what the storage benchmark calls it

    @property
    def path(self) -> Path:
        return FOOTAGE_DIR / self.file


BUSY = Clip("vtest.avi", "c860e62379d5bd066104516f386487e4adfcf8ddd88af4768c02507d77c79188",
            "GitHub repository lamminhthien/Motion_Detector_OpenCV @ 2b00577e69a39688ac7532527b8ff3c9e8c17ff7 : "
            "vtest.avi (OpenCV's sample clip, re-encoded)",
            "a hall filmed from above by a still camera, 1280x720 at 50 fps, 13.6 s: dozens of people "
            "cross all the time", "hall")
OFFICE = Clip("one-by-one-person-detection.mp4", "a5964aa259099a482a8b360ffc2c57b5a30f84d5919236a4dad01f8e929ac07c",
              "GitHub repository intel-iot-devkit/sample-videos @ 57978890822836f2b4743852f04f62fc511757e4 : "
              "one-by-one-person-detection.mp4 (CC BY 4.0)",
              "a room with a table, 768x432 at 10 fps, 139 s: six people come in one at a time, stand at "
              "the table and leave, with the room empty in between", "office")
PARKING = Clip("car-detection.mp4", "d31e0ebf194cc16e50eea784e7c3b0b1bb7976a4fb9b3fec26cb92a6704cca34",
               "GitHub repository intel-iot-devkit/sample-videos @ 57978890822836f2b4743852f04f62fc511757e4 : "
               "car-detection.mp4 (CC BY 4.0)",
               "a car park from above, 768x432 at 12.5 fps, 30 s: cars drive through with empty stretches "
               "between them; the camera's exposure jumps when a white car comes in", "parking")
STREET = Clip("issue53_brightness_change.avi", "a211ba0e863a467d8433beea9867b140bfee0bd0505b9c07a0874277cc15a1fa",
              "GitHub repository Breakthrough/DVR-Scan : tests/resources/issue53_brightness_change.avi",
              "a street camera outdoors, 960x1080 at 12 fps (stretched to 16:9 as the file source does), "
              "4.9 s: no one, trees and hedges in the sun, the camera's exposure swinging", "street")
CLIPS = {c.file: c for c in (BUSY, OFFICE, PARKING, STREET)}


class FootageMissing(Exception):
    """A clip is not in ``.cache/footage`` (or is not the expected file): says how to bring it."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checked(clip: Clip) -> Path:
    """The clip's file; :class:`FootageMissing` when it is absent or not the expected file."""
    if not clip.path.is_file():
        raise FootageMissing(f"{clip.file} is not in {FOOTAGE_DIR} (bring it from the {clip.source}; "
                             "tests/bench/README.md)")
    if _sha256(clip.path) != clip.sha256:
        raise FootageMissing(f"{clip.path} is not the expected file (sha256 should be {clip.sha256})")
    return clip.path


def missing(files: list[str]) -> str:
    """Empty when every named clip is in FOOTAGE_DIR with its checksum; else what to do."""
    problems = []
    for name in files:
        try:
            checked(CLIPS[name])
        except FootageMissing as exc:
            problems.append(str(exc))
    return "; ".join(problems)


def pictures(clip: Clip, fps: int, seconds: float | None = None,
             make: Callable[[av.VideoFrame], np.ndarray] = lambda p: convert(p)[0]) -> list[np.ndarray]:
    """The clip's pictures at ``fps``, as a camera at that rate would have shown them
    (:class:`Retimer`), each made by ``make`` (by default the capture's hd picture, I420);
    at most ``seconds`` of them.  A picture shown at several ticks is the same array each time."""
    out: list[np.ndarray] = []
    limit = None if seconds is None else round(seconds * fps)
    retimer = Retimer(fps)
    end = 0.0
    with av.open(str(checked(clip))) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        last = None
        for time_s, picture in picture_times(container.decode(stream), stream):
            end = time_s + (time_s - last if last is not None else 1.0 / fps)
            last = time_s
            out += retimer.feed(time_s, make(picture))
            if limit is not None and len(out) >= limit:
                return out[:limit]
    return out + [p for p in retimer.feed(end, None) if p is not None]


def hd_frames(clip: Clip, fps: int = 30, seconds: float | None = None) -> list[np.ndarray]:
    """The hd ring's pictures (I420, 1280x720) a camera at ``fps`` filming the clip gives."""
    return pictures(clip, fps, seconds)


def sd_frames(clip: Clip, fps: int = 30, seconds: float | None = None) -> list[np.ndarray]:
    """The sd ring's pictures (I420, the centre 4:3 crop at 640x480) likewise."""
    return pictures(clip, fps, seconds, lambda p: convert(p)[1])


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
