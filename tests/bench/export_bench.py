"""Exports: the CPU of ``GET /api/export`` (the segments' packets copied into one MP4).

    python -m tests.bench.export_bench [--quick]

One 720p30 segment of the synthetic street is encoded as the recorder encodes (libx264
ultrafast, zerolatency, crf 23, a keyframe a second, fragmented MP4; 30 s, --quick 10 s) and
hard-linked under the names of an hour of both cameras.  Measured, as the route does it (the
segments covering the range, joined by :func:`streamer.archive.join.join`), with the files in
the page cache: the CPU of 90 s of one camera (median of repeated runs) and of 60 min of two
cameras, beside the CPU the encoding of the footage took.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

from tests.bench.figures import Figure, summarise
from tests.bench.report import run_alone

SECTION = "export"
SEGMENT_S = 30


def _footage(path: Path, seconds: int) -> float:
    """One segment of the synthetic street at 720p30 encoded as the recorder encodes (libx264
    ultrafast, zerolatency, crf 23, a keyframe a second, fragmented MP4); returns the encode's CPU s."""
    from fractions import Fraction

    import av
    import numpy as np

    from capture.sources.synthetic import SyntheticSource
    from common.clock import Pacer
    from common.video.i420 import frame_bytes, planes
    from common.video.streams import STREAMS
    from recorder.segments.writer import MUX_OPTIONS

    src = SyntheticSource(0, 30, "street")
    src._pacer = Pacer(1000)   # rendered back to back: pacing is not measured here
    (w, h), (sw, sh) = STREAMS["hd"], STREAMS["sd"]
    hd_buf, sd_buf = np.zeros(frame_bytes(w, h), np.uint8), np.zeros(frame_bytes(sw, sh), np.uint8)
    hd, sd = planes(hd_buf, w, h), planes(sd_buf, sw, sh)
    encode_cpu = 0.0
    with av.open(str(path), "w", format="mp4",
                 options=MUX_OPTIONS) as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "ultrafast", "tune": "zerolatency",
                                                             "crf": "23", "g": "30", "sc_threshold": "0"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(seconds * 30):
            src.capture(1.0).fill(hd, sd)
            frame = av.VideoFrame.from_ndarray(hd_buf.reshape(h * 3 // 2, w), format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            cpu0 = time.process_time()
            for packet in stream.encode(frame):
                out.mux(packet)
            encode_cpu += time.process_time() - cpu0
        for packet in stream.encode():
            out.mux(packet)
    return encode_cpu


def run(quick: bool) -> list[Figure]:
    """CPU of an export (:func:`streamer.archive.join.join`, what ``GET /api/export`` streams):
    90 s of one camera and 60 min of two, from 720p30 segments of the synthetic street."""
    seg_s = 10 if quick else SEGMENT_S
    folder = Path(tempfile.mkdtemp(prefix="sht-bench-export-"))
    try:
        return _figures(folder, seg_s, quick)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _figures(folder: Path, seg_s: int, quick: bool) -> list[Figure]:
    from common.archive import segment_name
    from streamer.archive.join import Joined, Piece, join

    master = folder / "master.mp4"
    encode_cpu = _footage(master, seg_s)
    start = datetime(2026, 12, 4, 14, 0, 0).timestamp()
    pieces: dict[int, list[Piece]] = {}
    for cam in (0, 1):
        pieces[cam] = []
        for k in range(3600 // seg_s):
            t = start + k * seg_s
            path = folder / segment_name.for_start(cam, datetime.fromtimestamp(t)).name
            os.link(master, path)
            pieces[cam].append(Piece(path, t))

    def cpu_of(cams: tuple[int, ...], begin: float, end: float) -> tuple[float, Joined]:
        """CPU of exporting each of ``cams`` in turn; what the last one wrote."""
        cpu0 = time.process_time()
        joined = Joined()
        for cam in cams:
            joined = Joined()
            covering = [p for p in pieces[cam] if p.start < end and p.start + seg_s > begin]   # as the route's
            for _ in join(covering, begin, end, "bench", joined):
                pass
        return time.process_time() - cpu0, joined

    repeats = 3 if quick else 7
    short = [cpu_of((0,), start + 130, start + 220) for _ in range(repeats)]
    assert abs(short[0][1].duration - 90.0) < 1.0, short[0][1]
    long = [cpu_of((0, 1), start, start + 3600) for _ in range(1 if quick else 3)]
    mb = master.stat().st_size / 1e6
    note = (f"packets copied, nothing decoded or encoded; files in the page cache; {seg_s} s segments of "
            f"{mb:.1f} MB, whose encoding cost {encode_cpu:.1f} s of CPU each")
    return [
        summarise(SECTION, "export: 90 s of one camera, CPU", [1000 * c for c, _ in short], "ms", note=note),
        summarise(SECTION, "export: 60 min of two cameras, CPU", [c for c, _ in long], "s",
                  note=f"{2 * 3600 // seg_s} segments, {2 * long[0][1].bytes / 1e6:.0f} MB out; {note}"),
    ]


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
