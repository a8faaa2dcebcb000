"""Pixels to motion: how much of a camera's picture moves, and where.

Reads the Y plane only, every ``STEP``-th pixel of every ``STEP``-th row (a strided view:
a 640x480 sd frame becomes 160x120 without any filtering work), against a running-average
background:

* a global gain (mean of the frame over mean of the background) is divided out first, so
  a cloud or a light that dims the whole scene does not count as motion;
* a pixel is "hot" when it differs from the gain-corrected background by more than the
  threshold that ``sensitivity`` gives;
* a 2x2 erosion keeps only hot pixels whose three neighbours are hot too: single noisy
  pixels vanish, a person or a car does not;
* the background follows the scene quickly where nothing moves and more slowly under hot
  pixels (a car that parks becomes background within seconds, as does the "ghost" a
  moving thing leaves where it stood when the background was first learnt);
* the first ``WARMUP_FRAMES`` after a (re)start only learn the background.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEP = 4                 # keep every 4th pixel in both directions
ALPHA_STILL = 0.05       # background learning rate per analysed frame where nothing moves
ALPHA_MOVING = 0.02      # ... and under hot pixels
ALPHA_WARMUP = 0.3
WARMUP_FRAMES = 10


def threshold_for(sensitivity: int) -> float:
    """Luma difference (0-255) that makes a pixel hot: 45 at sensitivity 1, 25 at 50, 5 at 100."""
    return 5.0 + 0.404 * (100 - sensitivity)


@dataclass(frozen=True)
class Motion:
    area_percent: float                                  # eroded hot pixels, % of the analysed area
    bbox: tuple[float, float, float, float] | None       # x, y, width, height in % of the picture


NO_MOTION = Motion(0.0, None)


class Detector:
    """One camera's background model.  ``feed(y)`` costs a few dozen microseconds."""

    def __init__(self, width: int, height: int, sensitivity: int = 50,
                 masks: list[list[float]] | None = None, ignore_top_rows: int = 0) -> None:
        self.w, self.h = len(range(0, width, STEP)), len(range(0, height, STEP))
        valid = np.ones((self.h, self.w), bool)
        for x, y, w, h in masks or []:
            c0, c1 = int(x / 100 * self.w), int(np.ceil((x + w) / 100 * self.w))
            r0, r1 = int(y / 100 * self.h), int(np.ceil((y + h) / 100 * self.h))
            valid[r0:r1, c0:c1] = False
        if ignore_top_rows:
            valid[:int(np.ceil(ignore_top_rows / STEP))] = False
        self.valid = valid
        self.count = max(1, int(valid.sum()))
        self.threshold = threshold_for(sensitivity)
        self.bg: np.ndarray | None = None
        self.moving: np.ndarray | None = None   # the last frame's eroded hot cells (None: nothing moved)
        self._warm = 0
        self._small = np.empty((self.h, self.w), np.float32)
        self._diff = np.empty((self.h, self.w), np.float32)
        self._alpha = np.empty((self.h, self.w), np.float32)

    def reset(self) -> None:
        """Forget the background (after a gap in the frames or a new camera incarnation)."""
        self.bg = self.moving = None

    def feed(self, y: np.ndarray) -> Motion:
        small, diff = self._small, self._diff
        np.copyto(small, y[::STEP, ::STEP], casting="unsafe")
        self.moving = None
        if self.bg is None:
            self.bg, self._warm = small.copy(), 0
            return NO_MOTION
        bg = self.bg
        if self._warm < WARMUP_FRAMES:
            self._warm += 1
            bg += ALPHA_WARMUP * (small - bg)
            return NO_MOTION
        gain = float(small.mean()) / max(1.0, float(bg.mean()))
        np.multiply(bg, gain, out=diff)
        np.subtract(small, diff, out=diff)
        np.abs(diff, out=diff)
        hot = diff > self.threshold
        hot &= self.valid
        core = hot[:-1, :-1] & hot[1:, :-1]
        core &= hot[:-1, 1:]
        core &= hot[1:, 1:]
        cells = int(np.count_nonzero(core))
        self.moving = core if cells else None
        # Learn: fast where still, slow under hot pixels.
        alpha = self._alpha
        alpha.fill(ALPHA_STILL)
        alpha[hot] = ALPHA_MOVING
        np.subtract(small, bg, out=diff)
        diff *= alpha
        bg += diff
        if not cells:
            return NO_MOTION
        area = cells * 100.0 / self.count
        rows = np.flatnonzero(core.any(axis=1))
        cols = np.flatnonzero(core.any(axis=0))
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 2, int(cols[0]), int(cols[-1]) + 2
        bbox = (round(c0 * 100 / self.w, 2), round(r0 * 100 / self.h, 2),
                round((c1 - c0) * 100 / self.w, 2), round((r1 - r0) * 100 / self.h, 2))
        return Motion(round(area, 3), bbox)
