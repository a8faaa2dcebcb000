"""A synthetic camera: a moving, textured, noisy street-like scene at an exact frame rate.

Everything costly is computed once: the scene (value-noise texture at three scales, bands
and a grid of "windows") for both streams, and a long strip of sensor noise.  Each frame
then costs a few slice copies: a panning window of the scene, a moving "vehicle", and a
window of the noise strip at a new offset, so the picture changes every frame and
compresses like a camera's (not like a flat test card).

The sd stream shows the centre crop of the hd picture with the sd picture's 4:3 shape
(960x720 scaled to 640x480), so both streams show the same scene without distortion.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np

from capture.source import CapturedFrame, Planes
from common.clock import Pacer
from common.ring_layout import STREAMS

PAN = 96            # scene margin around the hd picture, in hd pixels, for the slow pan
HD_W, HD_H = STREAMS["hd"]
SD_W, SD_H = STREAMS["sd"]
SD_SCALE = HD_H / SD_H                  # hd pixels per sd pixel in the centre crop
SD_CROP_X = (HD_W - SD_W * SD_SCALE) / 2  # where the crop starts, in hd pixels
NOISE_AMPLITUDE = 6


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
        self.margin = int(round(PAN / scale)) // 2 * 2
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

    def render(self, planes: Planes, t: float, frame_no: int) -> None:
        y, u, v = planes
        m, w, h = self.margin, self.width, self.height
        # Slow pan, like a camera on a swaying mast; even offsets keep chroma aligned.
        ox = int(m + m * 0.9 * math.sin(t * 0.31)) // 2 * 2
        oy = int(m + m * 0.6 * math.sin(t * 0.23)) // 2 * 2
        np.copyto(y, self.y[oy:oy + h, ox:ox + w])
        np.copyto(u, self.u[oy // 2:oy // 2 + h // 2, ox // 2:ox // 2 + w // 2])
        np.copyto(v, self.v[oy // 2:oy // 2 + v.shape[0], ox // 2:ox // 2 + w // 2])
        # A vehicle crossing the picture every 8 s.
        vh, vw = self.vehicle_y.shape
        travel = w + vw
        x = int((t * travel / 8.0) % travel) // 2 * 2 - vw
        x0, x1 = max(0, x), min(w, x + vw)
        if x1 > x0:
            r = self.vehicle_row
            y[r:r + vh, x0:x1] = self.vehicle_y[:, x0 - x:x1 - x]
            u[r // 2:(r + vh) // 2, x0 // 2:x1 // 2] = self.vehicle_u[:, (x0 - x) // 2:(x1 - x) // 2]
            v[r // 2:(r + vh) // 2, x0 // 2:x1 // 2] = self.vehicle_v[:, (x0 - x) // 2:(x1 - x) // 2]
        # Sensor noise: the scene stays within [20, 225], so adding < 8 never wraps.
        offset = (frame_no * 7919 * 64) % 65536
        np.add(y, self.noise[offset:offset + w * h].reshape(h, w), out=y)


def _load(path: Path) -> dict[str, np.ndarray] | None:
    """The scene saved by an earlier start; None if absent or unreadable (then it is computed)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
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

    def __init__(self, camera: int, fps: float, cache_dir: Path | None = None) -> None:
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
        deadline_ns = self._pacer.wait()
        self._frame_no += 1
        return _SyntheticFrame(self, deadline_ns, time.time_ns(), self._frame_no)

    def close(self) -> None:
        self._pacer = None


class _SyntheticFrame(CapturedFrame):
    def __init__(self, source: SyntheticSource, mono_ns: int, wall_ns: int, frame_no: int) -> None:
        super().__init__(mono_ns, wall_ns)
        self.source = source
        self.frame_no = frame_no

    def fill(self, hd: Planes, sd: Planes) -> None:
        t = (self.mono_ns / 1e9) + self.source.camera * 3.0
        self.source.hd.render(hd, t, self.frame_no)
        self.source.sd.render(sd, t, self.frame_no)
