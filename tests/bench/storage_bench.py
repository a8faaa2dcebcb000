"""Storage: the recorder's encoder settings on real footage, what they cost a Pi 5, how many
days a card holds, and what a real scene costs the rest of the system.

Real clips (``tests/support/footage.py``; not in the repository: ``tests/bench/README.md``
says how to bring them, and without them the section is skipped with that message) are
played as the capture would deliver them (1280x720, 30 fps by their own timestamps) through
the recorder's own encoder (:mod:`tests.bench.h264_trial`):

* Candidate settings on the busy clip: Mbit/s, SSIM against the very pictures encoded
  (FFmpeg's ssim filter), CPU per frame here (process CPU time, median of the runs), and the
  estimated share of one Pi 5 core per camera at 30 fps.
* The Pi 5 factor, measured in the same run: Raspberry Pi say a Pi 5 needs "around 1
  processor to encode 1080p60 with our default settings" (their reply in the comments of
  "Introducing: Raspberry Pi 5!", raspberrypi.com/news/introducing-raspberry-pi-5/,
  September 2023), i.e. 16.7 ms of one Cortex-A76 per 1080p frame.  Those defaults are
  rpicam-apps' libx264 options (its encoder/libav_encoder.cpp, without ``--low-latency``):
  the same encoder with them on the clips at 1080p60 costs X ms here, so one unit of CPU
  work here is taken as 16.7 / X units on a Pi 5.
* The default settings on every clip (busy and quiet): Mbit/s, GB a day per camera, and the
  days of two cameras a 64 GB and a 256 GB card hold; GB a day per keyframe interval.
* Real scene costs: the JPEG per live view and the recorder's encode per frame on real
  pictures next to the synthetic camera's; then the whole tree (tree section) with both
  cameras playing the busy clip, next to the synthetic cameras, and the Pi 5 budget of two
  cameras, two recorders, two viewers of dual 720p and motion (the full run only).

    python -m tests.bench.storage_bench [--quick]
"""
from __future__ import annotations

import json
import statistics
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from capture.sources.synthetic import SyntheticSource
from common.config import load
from common.video.i420 import planes
from common.video.streams import STREAMS
from doctor.encoders import jpeg_views
from recorder.encode.settings import SOFTWARE, EncoderSettings
from tests.bench import h264_trial, tree_bench
from tests.bench.figures import Figure, SectionSkipped, summarise
from tests.bench.recorder_bench import synthetic_hd
from tests.bench.report import run_alone
from tests.support import footage

SECTION = "storage"
FPS = 30
(W, H) = STREAMS["hd"]
MAX_MBIT = 2.0               # the busy clip, at the default settings
MIN_SSIM = 0.98
LOW_DATA_MBIT = 2.5          # the low-data view's promise (it carries the recorder's stream)
PI_MS_1080P = 1000.0 / 60    # Raspberry Pi: around one core for 1080p60 at rpicam-vid's defaults
PI_CORES = 4
PI_BUDGET = 50.0             # % of the Pi 5's four cores the whole system may use
RECORDER_BUDGET = 50.0       # % of one Pi 5 core per recorder: its encoder is one thread
CARDS_GB = (64, 256)
# rpicam-apps' libx264 options without --low-latency (preset superfast, one B-frame, frame
# threads: here one thread, the same work), as AVOptions of FFmpeg's libx264 wrapper.
RPICAM_X264 = {"bf": "1", "partitions": "i8x8,i4x4", "weightp": "none", "weightb": "0", "motion-est": "dia",
               "rc-lookahead": "0", "mixed-refs": "0", "me_range": "16", "subq": "0", "cmp": "sse"}


@dataclass
class Candidate:
    label: str
    settings: EncoderSettings
    quick: bool = True           # also in the quick run


@dataclass
class Trial:
    candidate: Candidate
    encoded: h264_trial.Encoded
    ssim_y: float
    ssim: float

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.encoded.cpu_ms)


def candidates(default: EncoderSettings) -> list[Candidate]:
    s = default
    return [
        Candidate("until now: ultrafast, CRF 23, 1 s keyframes, no cap",
                  replace(s, preset="ultrafast", crf=23, gop=FPS, max_kbps=0)),
        Candidate("superfast, CRF 23", replace(s, crf=23), quick=False),
        Candidate("default", s),
        Candidate("superfast, CRF 28", replace(s, crf=28), quick=False),
        Candidate("veryfast, CRF 26", replace(s, preset="veryfast", crf=26)),
        Candidate("faster, CRF 26", replace(s, preset="faster", crf=26), quick=False),
        Candidate("veryfast, CRF 26, B-frames and lookahead (tune none)",
                  replace(s, preset="veryfast", crf=26, tune="none"), quick=False),
        Candidate("default, 2 slice threads", replace(s, threads=2), quick=False),
    ]


def describe(s: EncoderSettings) -> str:
    cap = f"cap {s.max_kbps} kbit/s" if s.max_kbps else "no cap"
    return (f"{s.preset}, CRF {s.crf}, tune {s.tune}, keyframe every {s.gop / s.fps:g} s, {cap}, "
            f"{s.threads} thread{'s' if s.threads != 1 else ''}")


def _pi(ms_here: float, factor: float) -> float:
    """% of one Pi 5 core at 30 fps for ``ms_here`` of CPU per frame here."""
    return ms_here * factor * FPS / 10.0


def pi_factor(clips: list[footage.Clip], frames: int, runs: int) -> tuple[float, list[float]]:
    """(factor, CPU ms per 1080p frame here) with rpicam-vid's settings, the clips at 1080p60."""
    settings = EncoderSettings(SOFTWARE, 1920, 1080, 60, 60, "superfast", "none", 23, 0, 1, RPICAM_X264)
    per_clip = []
    for clip in clips:
        full_hd = footage.pictures(clip, 60, frames / 60,
                                   lambda p: p.reformat(width=1920, height=1080, format="yuv420p").to_ndarray())
        per_clip.append(statistics.median(h264_trial.encode(full_hd, settings, runs).cpu_ms))
    return PI_MS_1080P / statistics.median(per_clip), per_clip


def trial(frames: list[np.ndarray], cand: Candidate, runs: int, tmp: Path) -> Trial:
    encoded = h264_trial.encode(frames, cand.settings, runs)
    y, all_ = h264_trial.ssim(frames, encoded, W, H, tmp / "trial.h264")
    return Trial(cand, encoded, y, all_)


def _days(gb_per_day_per_camera: float, card_gb: int) -> float:
    return card_gb / (2 * gb_per_day_per_camera)


def run(quick: bool) -> list[Figure]:
    absent = footage.missing([c.file for c in (footage.BUSY, footage.OFFICE, footage.PARKING)])
    if absent:
        raise SectionSkipped(absent)
    if h264_trial.ffmpeg() is None:
        raise SectionSkipped("ffmpeg is not installed (its ssim filter measures quality): apt-get install ffmpeg")
    cfg = load()
    default = EncoderSettings.of(cfg.recorder, SOFTWARE, W, H, FPS)
    busy_s, quiet_s, runs = (4.0, 10.0, 1) if quick else (None, 40.0, 3)
    figs: list[Figure] = []
    factor, factor_ms = pi_factor([footage.BUSY, footage.PARKING], 60 if quick else 240, 1 if quick else 3)
    figs.append(summarise(SECTION, "Pi 5 factor (CPU there / CPU here)", [factor], "x",
                          note=f"Raspberry Pi: around one core for 1080p60 at rpicam-vid's libx264 defaults "
                               f"(16.7 ms a frame); the same settings cost "
                               f"{', '.join(f'{ms:.1f}' for ms in factor_ms)} ms per 1080p frame here "
                               f"(hall, parking at 60 fps); every Pi 5 figure below is CPU here times this"))
    with tempfile.TemporaryDirectory(prefix="sht-bench-storage-") as tmpdir:
        tmp = Path(tmpdir)
        busy = footage.hd_frames(footage.BUSY, FPS, busy_s)
        trials = [trial(busy, c, runs, tmp) for c in candidates(default) if c.quick or not quick]
        for t in trials:
            s = t.candidate.settings
            figs.append(summarise(
                SECTION, f"hall: {t.candidate.label}", [t.encoded.mbit_s], "Mbit/s",
                note=f"{describe(s)}: SSIM {t.ssim:.4f} (Y {t.ssim_y:.4f}); CPU {t.cpu_ms:.2f} ms/frame here "
                     f"(median of {len(t.encoded.cpu_ms)}); Pi 5 about {_pi(t.cpu_ms, factor):.0f} % of one core "
                     f"per camera at 30 fps"))
        chosen = next(t for t in trials if t.candidate.label == "default")
        figs += [
            summarise(SECTION, "default on the hall (busy): bitrate", [chosen.encoded.mbit_s], "Mbit/s",
                      f"<= {MAX_MBIT:g} Mbit/s", lambda v: v <= MAX_MBIT,
                      note=f"{describe(default)}; {len(busy)} frames at 30 fps"),
            summarise(SECTION, "default on the hall (busy): SSIM", [chosen.ssim], "",
                      f">= {MIN_SSIM:g}", lambda v: v >= MIN_SSIM,
                      note="FFmpeg's ssim filter, All (Y, U, V 4:1:1) against the 30 fps pictures encoded"),
            summarise(SECTION, "low-data view on the hall (the recorder's stream)", [chosen.encoded.mbit_s],
                      "Mbit/s", f"<= {LOW_DATA_MBIT:g} Mbit/s", lambda v: v <= LOW_DATA_MBIT,
                      note=f"the same packets, so the same bitrate (plus about 0.03 Mbit/s of fMP4 boxes); the "
                           f"busiest 1 s took {chosen.encoded.peak_mbit_s(1.0):.2f} Mbit/s, the busiest 3 s "
                           f"{chosen.encoded.peak_mbit_s(3.0):.2f}; until now "
                           f"{trials[0].encoded.mbit_s:.2f} Mbit/s"),
            summarise(SECTION, "default: recorder CPU per frame here (hall)", chosen.encoded.cpu_ms, "ms",
                      note="the recorder's copy into the encoder's frame and the encode, process CPU time"),
            summarise(SECTION, "default: Pi 5 CPU of a recorder's encode (hall, estimate)",
                      [_pi(ms, factor) for ms in chosen.encoded.cpu_ms], "%core",
                      note="the encoder alone; the whole recorder process is in the Pi 5 budget below"),
        ]
        # The default and the keyframe interval on every clip: bytes a day, days on a card.
        quiet = {clip.name: footage.hd_frames(clip, FPS, quiet_s) for clip in (footage.OFFICE, footage.PARKING)}
        scenes = {footage.BUSY.name: busy, **quiet}
        for name, frames in scenes.items():
            for gop_s in (1, 2) if quick else (1, 2, 4):
                settings = replace(default, gop=gop_s * FPS)
                if settings == default and name == footage.BUSY.name:
                    enc = chosen.encoded
                else:
                    enc = h264_trial.encode(frames, settings, 1)
                is_default = settings == default
                days = ", ".join(f"{_days(enc.gb_per_day, gb):.1f} days on {gb} GB" for gb in CARDS_GB)
                figs.append(summarise(
                    SECTION, f"{name}: keyframe every {gop_s} s{' (default)' if is_default else ''}",
                    [enc.gb_per_day], "GB/day", note=f"{enc.mbit_s:.2f} Mbit/s per camera; two cameras: {days}"
                                                     f" ({len(frames) / FPS:.0f} s of the clip)"))
                if is_default and name != footage.BUSY.name:
                    _, all_ = h264_trial.ssim(frames, enc, W, H, tmp / "quiet.h264")
                    figs[-1].note += f"; SSIM {all_:.4f}"
        figs += real_scene_costs(busy, default, factor, quick)
    return figs


def jpeg_figures(busy: list[np.ndarray], quality: int, repeats: int) -> tuple[list[Figure], dict[str, float]]:
    """JPEG CPU per frame per view, real pictures against the synthetic camera's."""
    sw, sh = STREAMS["sd"]
    sd = footage.sd_frames(footage.BUSY, FPS, len(busy) / FPS)
    picks = [n * len(busy) // 10 for n in range(10)]
    real = jpeg_views([(planes(busy[i], W, H), planes(sd[i], sw, sh)) for i in picks], quality, repeats)
    synth_hd = synthetic_hd(10)
    src = SyntheticSource(0, FPS)
    synth = []
    for n, hd in enumerate(synth_hd):
        sd = np.empty((sh * 3 // 2, sw), np.uint8)
        src.sd.render(planes(sd, sw, sh), n / FPS, n)
        synth.append((planes(hd, W, H), planes(sd, sw, sh)))
    fake = jpeg_views(synth, quality, repeats)
    figs = []
    for view, (ms, size) in real.items():
        fms, fsize = fake[view]
        figs.append(summarise(SECTION, f"JPEG {view}: hall / synthetic CPU", [ms / fms], "x",
                              note=f"{ms:.2f} ms and {size / 1000:.0f} kB a frame on the hall, {fms:.2f} ms and "
                                   f"{fsize / 1000:.0f} kB on the synthetic camera (quality {quality}, median of "
                                   f"10 pictures x {repeats})"))
    return figs, {view: ms for view, (ms, _) in real.items()}


def real_scene_costs(busy: list[np.ndarray], default: EncoderSettings, factor: float, quick: bool) -> list[Figure]:
    cfg = load()
    figs, _ = jpeg_figures(busy, cfg.streamer.jpeg_quality, 1 if quick else 3)
    synth = h264_trial.encode(synthetic_hd(len(busy)), default, 1 if quick else 3)
    real = h264_trial.encode(busy, default, 1 if quick else 3)
    figs.append(summarise(SECTION, "recorder encode: hall / synthetic CPU",
                          [statistics.median(real.cpu_ms) / statistics.median(synth.cpu_ms)], "x",
                          note=f"{statistics.median(real.cpu_ms):.2f} against {statistics.median(synth.cpu_ms):.2f} "
                               f"ms/frame; {real.mbit_s:.2f} against {synth.mbit_s:.2f} Mbit/s at the default"))
    if quick:
        return figs   # the whole tree twice takes longer than a quick run may
    # The whole tree, synthetic cameras and both cameras playing the busy clip.
    clip = str(footage.checked(footage.BUSY))
    synthetic = tree_bench.measure(quick)
    hall = tree_bench.measure(quick, camera__source="file", camera__files=json.dumps([clip, clip]))
    for name in ("recorder0", "recorder1", "streamer", "motion"):
        figs.append(summarise(SECTION, f"tree on the hall: {name} CPU", hall.cpu[name], "%core",
                              note=f"synthetic cameras: {_median(synthetic.cpu[name]):.1f} %core"))
    # The Pi 5 budget: capture as on the synthetic camera (a file's decoding is not a camera's
    # work), everything else as on the hall.
    parts = {"capture": sum(_median(synthetic.cpu[f"capture{c}"]) for c in (0, 1)),
             "recorders": sum(_median(hall.cpu[f"recorder{c}"]) for c in (0, 1)),
             "streamer (2 viewers of dual 720p)": _median(hall.cpu["streamer"]),
             "motion": _median(hall.cpu["motion"])}
    pi = {k: v * factor for k, v in parts.items()}
    total = sum(pi.values()) / PI_CORES
    problems = synthetic.problems + hall.problems
    figs.append(summarise(SECTION, "Pi 5 CPU per recorder (tree on the hall, estimate)",
                          [v * factor for v in hall.cpu["recorder0"] + hall.cpu["recorder1"]], "%core",
                          f"<= {RECORDER_BUDGET:g} %core", lambda v: v <= RECORDER_BUDGET,
                          note="its encoder is one thread: it must keep up with 30 fps with room to spare"))
    figs.append(summarise(
        SECTION, "Pi 5 budget: 2 cameras, 2 recorders, 2 viewers of dual 720p, motion", [] if problems else [total],
        "% of Pi 5", f"<= {PI_BUDGET:g} %", lambda v: v <= PI_BUDGET,
        note=("; ".join(problems) + "; " if problems else "") + ", ".join(
            f"{k} {v:.0f} %core" for k, v in pi.items()) + f" of a Pi 5 core (here x {factor:.2f}); "
        f"at twice that factor {2 * total:.0f} % of the Pi 5"))
    return figs


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


if __name__ == "__main__":
    run_alone(SECTION, __name__, run)
