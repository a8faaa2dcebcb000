"""A synthetic camera: a textured, noisy street-like scene at an exact frame rate.

Everything costly is computed once: the scene (value-noise texture at three scales, bands
and a grid of "windows") for both streams, and a long strip of sensor noise.  Each frame
then costs a few slice copies and a window of the noise strip at a new offset, so the
picture changes every frame and compresses like a camera's (not like a flat test card).

The sd stream shows the centre crop of the hd picture with the sd picture's 4:3 shape
(960x720 scaled to 640x480), so both streams show the same scene without distortion.

Two scenes (``camera.synthetic_scene``).  ``still``, the default, is what a mounted camera
sees: no pan, a slow lighting ramp (a passing cloud), and a figure walking across every
``camera.synthetic_motion_every`` seconds at known times (:class:`MotionScript`), so motion
is seen now and then, as in a shop; it is also the motion detector's test card, and
:func:`sd_frames` renders its sd frames directly, with the overlay, faster than real time.
``street`` pans over the street with a vehicle always crossing: motion all the time, the
heaviest picture for the encoders.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from capture.sources.base import CameraFailed, CapturedFrame, Planes
from common.clock import Pacer, stamp_text
from common.config.sections import CameraSection
from common.video.overlay import FrameStamp
from common.video.streams import STREAMS

PAN = 96            # scene margin around the hd picture, in hd pixels, for the slow pan
HD_W, HD_H = STREAMS["hd"]
SD_W, SD_H = STREAMS["sd"]
SD_SCALE = HD_H / SD_H                  # hd pixels per sd pixel in the centre crop
SD_CROP_X = (HD_W - SD_W * SD_SCALE) / 2  # where the crop starts, in hd pixels
NOISE_AMPLITUDE = 6


@dataclass(frozen=True)
class MotionScript:
    """The scripted scene: a figure crosses every ``every`` s; a cloud dims the light.

    Times are the frame's capture time in seconds (CLOCK_MONOTONIC).  Crossing n starts at
    ``n * every`` with the figure just outside the hd picture's left edge; it enters the sd
    picture (the centre crop the detector reads) ``sd_enter_after`` s later.
    """

    every: float                  # 0: nobody crosses
    speed: float = 220.0          # hd pixels per second: a walk across the picture in 6 s
    figure_w: int = 60            # hd pixels
    figure_h: int = 170
    figure_top: int = 400
    cloud_period: float = 150.0   # s for the light to dim and come back
    cloud_depth: float = 0.3      # the darkest moment has 70% of the light

    @property
    def sd_enter_after(self) -> float:
        return SD_CROP_X / self.speed   # its front edge reaches the crop

    @property
    def crossing_s(self) -> float:
        return (HD_W + 2 * self.figure_w) / self.speed

    def figure_x(self, t: float) -> int | None:
        """Left edge of the figure in hd pixels at time ``t``, or None when it is not in view."""
        if self.every <= 0:
            return None
        phase = t % self.every
        if phase >= self.crossing_s:
            return None
        return int(phase * self.speed) - self.figure_w

    def light(self, t: float) -> float:
        return 1.0 - self.cloud_depth * 0.5 * (1 - math.cos(2 * math.pi * t / self.cloud_period))

    def sd_entries(self, t0: float, t1: float) -> list[float]:
        """Times in [t0, t1) when the figure enters the sd picture."""
        if self.every <= 0:
            return []
        n = math.ceil((t0 - self.sd_enter_after) / self.every)
        out = []
        while n * self.every + self.sd_enter_after < t1:
            out.append(n * self.every + self.sd_enter_after)
            n += 1
        return out


def _value_noise(rng: np.random.Generator, xs: np.ndarray, ys: np.ndarray, cell: float,
                 size: int) -> np.ndarray:
    """Smooth random field in [0, 1], sampled at scene coordinates (bilinear lattice)."""
    grid = rng.random((size, size), dtype=np.float32)
    gx, gy = xs / cell, ys / cell
    x0, y0 = np.floor(gx).astype(np.int64), np.floor(gy).astype(np.int64)
    fx, fy = (gx - x0).astype(np.float32), (gy - y0).astype(np.float32)
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    x0, y0 = x0 % size, y0 % size
    x1, y1 = (x0 + 1) % size, (y0 + 1) % size
    top = grid[y0, x0] * (1 - fx) + grid[y0, x1] * fx
    bottom = grid[y1, x0] * (1 - fx) + grid[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _scene(xs: np.ndarray, ys: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V of the scene at scene coordinates (hd pixels).  Same seed, same scene."""
    def noise(cell: float, salt: int) -> np.ndarray:
        return _value_noise(np.random.default_rng(seed * 1000 + salt), xs, ys, cell, 512)

    sky = ys < 260
    luma = np.where(sky, 170 + 40 * noise(160, 1), 95 + 50 * noise(90, 2))
    # A row of buildings with lit windows, then texture at coarse, medium and fine scale;
    # the fine texture is kept weak so a 480p JPEG at q80 is about 40 KB.
    building = (ys > 150) & (ys < 420) & ((xs // 230) % 2 == 0)
    windows = building & ((xs % 46) < 24) & ((ys % 40) < 20)
    luma = np.where(building, 70 + 30 * noise(40, 3), luma)
    luma = np.where(windows, 200 + 25 * noise(12, 4), luma)
    luma += 30 * (noise(24, 5) - 0.5) + 18 * (noise(5, 6) - 0.5) + 8 * (noise(2.2, 7) - 0.5)
    y = np.clip(luma, 20, 225).astype(np.uint8)
    cx, cy = xs[::2, ::2], ys[::2, ::2]
    sky_c = cy < 260
    u = np.where(sky_c, 150, 118) + 14 * (_value_noise(np.random.default_rng(seed + 8), cx, cy, 120, 256) - 0.5)
    v = np.where(sky_c, 112, 134) + 14 * (_value_noise(np.random.default_rng(seed + 9), cx, cy, 120, 256) - 0.5)
    return y, np.clip(u, 16, 240).astype(np.uint8), np.clip(v, 16, 240).astype(np.uint8)


class _StreamScene:
    """Precomputed scene, vehicle and noise for one output size."""

    def __init__(self, width: int, height: int, scale: float, x_origin: float, seed: int,
                 cached: dict[str, np.ndarray] | None = None) -> None:
        self.width, self.height, self.scale = width, height, scale
        self.margin = round(PAN / scale) // 2 * 2
        sw, sh = width + 2 * self.margin, height + 2 * self.margin
        if cached is not None:
            self.y, self.u, self.v = cached["y"], cached["u"], cached["v"]
        else:
            ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
            # scene coordinates of this stream's pixels (the sd crop starts x_origin hd pixels in)
            self.y, self.u, self.v = _scene(x_origin + (xs - self.margin) * scale + PAN,
                                            (ys - self.margin) * scale + PAN, seed)
        vw, vh = int(220 / scale) // 2 * 2, int(90 / scale) // 2 * 2
        vy, vx = np.mgrid[0:vh, 0:vw]
        body = 60 + 40 * ((vx * scale // 18 + vy * scale // 18) % 2)
        self.vehicle_y = np.where(vy < vh // 3, 200, body).astype(np.uint8)
        self.vehicle_u = np.full((vh // 2, vw // 2), 100, np.uint8)
        self.vehicle_v = np.full((vh // 2, vw // 2), 170, np.uint8)
        self.vehicle_row = int(470 / scale) // 2 * 2
        rng = np.random.default_rng(seed + 99)
        # Noise strip: a frame's worth plus slack; each frame reads it at another offset.
        self.noise = rng.integers(0, NOISE_AMPLITUDE, width * height + 65536, dtype=np.uint8)
        self.x_origin = x_origin
        fh, fw = int(170 / scale) // 2 * 2, int(60 / scale) // 2 * 2
        fy, fx = np.mgrid[0:fh, 0:fw]
        head = fy < fh // 5
        # A dark coat with a lighter head: a person in the street, not a flat block.
        self.figure_y = np.where(head, 150, 38 + 10 * ((fx + fy) * scale // 12 % 2)).astype(np.uint8)
        self.lut = np.arange(256, dtype=np.uint8)

    def render(self, planes: Planes, t: float, frame_no: int, script: MotionScript | None = None) -> None:
        if script is not None:
            self._render_still(planes, t, frame_no, script)
            return
        y, u, v = planes
        m, w, h = self.margin, self.width, self.height
        # Slow pan, like a camera on a swaying mast; even offsets keep chroma aligned.
        ox = int(m + m * 0.9 * math.sin(t * 0.31)) // 2 * 2
        oy = int(m + m * 0.6 * math.sin(t * 0.23)) // 2 * 2
        np.copyto(y, self.y[oy:oy + h, ox:ox + w])
        np.copyto(u, self.u[oy // 2:oy // 2 + h // 2, ox // 2:ox // 2 + w // 2])
        np.copyto(v, self.v[oy // 2:oy // 2 + v.shape[0], ox // 2:ox // 2 + w // 2])
        self._vehicle(planes, t)
        self._noise(y, frame_no)

    def _render_still(self, planes: Planes, t: float, frame_no: int, script: MotionScript) -> None:
        y, u, v = planes
        m, w, h = self.margin, self.width, self.height
        np.copyto(y, self.y[m:m + h, m:m + w])
        np.copyto(u, self.u[m // 2:m // 2 + h // 2, m // 2:m // 2 + w // 2])
        np.copyto(v, self.v[m // 2:m // 2 + h // 2, m // 2:m // 2 + w // 2])
        x_hd = script.figure_x(t)
        if x_hd is not None:
            fh, fw = self.figure_y.shape
            x = int((x_hd - self.x_origin) / self.scale) // 2 * 2
            top = int(script.figure_top / self.scale) // 2 * 2
            x0, x1 = max(0, x), min(w, x + fw)
            if x1 > x0:
                y[top:top + fh, x0:x1] = self.figure_y[:, x0 - x:x1 - x]
                u[top // 2:(top + fh) // 2, x0 // 2:x1 // 2] = 120
                v[top // 2:(top + fh) // 2, x0 // 2:x1 // 2] = 140
        # The cloud: all light scaled by one gain, through a 256-entry table.
        self.lut[:] = np.arange(256, dtype=np.float32) * script.light(t)
        np.take(self.lut, y, out=y)
        self._noise(y, frame_no)

    def _noise(self, y: np.ndarray, frame_no: int) -> None:
        # Sensor noise: the scene stays within [20, 225], so adding < 8 never wraps.
        w, h = self.width, self.height
        offset = (frame_no * 7919 * 64) % 65536
        np.add(y, self.noise[offset:offset + w * h].reshape(h, w), out=y)

    def _vehicle(self, planes: Planes, t: float) -> None:
        # A vehicle crossing the picture every 8 s.
        y, u, v = planes
        w = self.width
        vh, vw = self.vehicle_y.shape
        travel = w + vw
        x = int((t * travel / 8.0) % travel) // 2 * 2 - vw
        x0, x1 = max(0, x), min(w, x + vw)
        if x1 > x0:
            r = self.vehicle_row
            y[r:r + vh, x0:x1] = self.vehicle_y[:, x0 - x:x1 - x]
            u[r // 2:(r + vh) // 2, x0 // 2:x1 // 2] = self.vehicle_u[:, (x0 - x) // 2:(x1 - x) // 2]
            v[r // 2:(r + vh) // 2, x0 // 2:x1 // 2] = self.vehicle_v[:, (x0 - x) // 2:(x1 - x) // 2]


def _load(path: Path) -> dict[str, np.ndarray] | None:
    """The scene saved by an earlier start; None if absent or unreadable (then it is computed)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _save(path: Path, arrays: dict[str, Any]) -> None:
    # A restarted capture (kill -9, camera failure) then publishes its first frame sooner:
    # the scene costs about 0.75 s of CPU, seconds of recording on a busy machine.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


class SyntheticSource:
    """Frames at exactly ``fps`` on the monotonic clock, for any camera number."""

    kind = "synthetic"

    def __init__(self, camera: int, fps: float, scene: str = CameraSection.synthetic_scene,
                 motion_every: float = CameraSection.synthetic_motion_every, cache_dir: Path | None = None) -> None:
        self.camera = camera
        self.fps = fps
        seed = 1234 + camera * 17
        cache = None if cache_dir is None else cache_dir / f"synthetic_scene_{seed}_{HD_W}x{HD_H}_{SD_W}x{SD_H}.npz"
        cached = _load(cache) if cache is not None else None
        self.hd = _StreamScene(HD_W, HD_H, 1.0, 0.0, seed, cached and {k: cached["hd_" + k] for k in "yuv"})
        self.sd = _StreamScene(SD_W, SD_H, SD_SCALE, SD_CROP_X, seed, cached and {k: cached["sd_" + k] for k in "yuv"})
        if cache is not None and cached is None:
            _save(cache, {f"{name}_{k}": getattr(scene, k) for name, scene in (("hd", self.hd), ("sd", self.sd))
                          for k in "yuv"})
        self.script = MotionScript(motion_every) if scene == "still" else None   # None: the street
        self._pacer: Pacer | None = None
        self._frame_no = 0
        self._t0 = time.monotonic()

    def start(self) -> None:
        self._pacer = Pacer(self.fps)

    @property
    def missed(self) -> int:
        return self._pacer.skipped if self._pacer else 0

    def interrupt(self) -> None:
        """Nothing to cut short: a capture waits at most one frame period."""

    def capture(self, timeout: float) -> CapturedFrame:
        if self._pacer is None:
            raise CameraFailed("synthetic camera: capture before start (or after close)")
        deadline_ns = self._pacer.wait()
        self._frame_no += 1
        return _SyntheticFrame(deadline_ns, time.time_ns(), self, self._frame_no)

    def close(self) -> None:
        self._pacer = None


@dataclass(eq=False)
class _SyntheticFrame(CapturedFrame):
    source: SyntheticSource
    frame_no: int

    def fill(self, hd: Planes, sd: Planes) -> None:
        src = self.source
        if src.script is not None:  # scripted times are the capture times themselves
            t = self.mono_ns / 1e9
        else:
            t = (self.mono_ns / 1e9) + src.camera * 3.0
        src.hd.render(hd, t, self.frame_no, src.script)
        src.sd.render(sd, t, self.frame_no, src.script)


def sd_frames(script: MotionScript, fps: float, start_s: float, seconds: float, camera: int = 0,
              name: str = "CAM 0", wall_s: float = 1.8e9) -> Iterator[tuple[int, np.ndarray]]:
    """(capture ns, sd Y plane) of the scripted scene as the capture process makes them
    (overlay included), rendered back to back without waiting: an hour in a minute.
    The Y plane is reused from one frame to the next."""
    scene = _StreamScene(SD_W, SD_H, SD_SCALE, SD_CROP_X, 1234 + camera * 17)
    y = np.empty((SD_H, SD_W), np.uint8)
    u = np.empty((SD_H // 2, SD_W // 2), np.uint8)
    v = np.empty((SD_H // 2, SD_W // 2), np.uint8)
    stamp = FrameStamp(name, SD_W, SD_H)
    for i in range(int(seconds * fps)):
        t = start_s + i / fps
        scene.render((y, u, v), t, i, script)
        stamp.draw(y, u, v, stamp_text(int((wall_s + t - start_s) * 1e9)))
        yield int(t * 1e9), y
