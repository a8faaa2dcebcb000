"""The synthetic camera's pictures compress like a camera's, and its pacing keeps time."""

from __future__ import annotations

import numpy as np
import pytest
import simplejpeg

from capture.sources.synthetic import SyntheticSource
from common.clock import Pacer


# -- the synthetic camera and its pacing -----------------------------------------------------------
def _planes(w: int, h: int):
    return (np.zeros((h, w), np.uint8), np.zeros((h // 2, w // 2), np.uint8), np.zeros((h // 2, w // 2), np.uint8))


def test_synthetic_sd_jpeg_size_like_a_camera() -> None:
    src = SyntheticSource(0, 30)
    src._pacer = Pacer(1000)  # no need to wait 1/30 s per frame here
    hd, sd = _planes(1280, 720), _planes(640, 480)
    sizes, previous = [], None
    for _ in range(15):
        frame = src.capture(1.0)
        frame.fill(hd, sd)
        sizes.append(len(simplejpeg.encode_jpeg_yuv_planes(*sd, quality=80)))
        assert previous is None or not np.array_equal(previous, sd[0])  # every frame changes
        previous = sd[0].copy()
    assert all(20_000 <= s <= 60_000 for s in sizes), sizes
    assert 30_000 <= sum(sizes) / len(sizes) <= 50_000, sizes


class _FakeTime:
    """A monotonic clock that moves only when the pacer sleeps or the 'work' takes time."""

    def __init__(self, oversleep_ns: int) -> None:
        self.now = 5_000_000_000
        self.oversleep_ns = oversleep_ns
        self.sleeps = 0

    def monotonic_ns(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += int(seconds * 1e9) + self.oversleep_ns  # the OS always wakes us late


@pytest.mark.parametrize("fps", [30, 25, 15])
def test_pacer_has_no_drift_over_an_hour(fps: int) -> None:
    clock = _FakeTime(oversleep_ns=700_000)
    pacer = Pacer(fps, monotonic_ns=clock.monotonic_ns, sleep=clock.sleep)
    start = clock.now
    ticks = fps * 3600
    for n in range(1, ticks + 1):
        clock.now += 3_000_000  # 3 ms of work per frame
        deadline = pacer.wait()
        assert deadline == start + n * 1_000_000_000 // fps
    assert pacer.skipped == 0
    assert clock.now - (start + 3600 * 1_000_000_000) < 2_000_000  # an hour is an hour, give or take one wake-up


def test_pacer_skips_missed_ticks_instead_of_bursting() -> None:
    clock = _FakeTime(oversleep_ns=0)
    pacer = Pacer(30, monotonic_ns=clock.monotonic_ns, sleep=clock.sleep)
    start = clock.now
    pacer.wait()
    clock.now += 120_000_000  # stalled for 3.6 periods
    deadline = pacer.wait()
    assert pacer.skipped == 2 and deadline == start + 4 * 1_000_000_000 // 30
    sleeps = clock.sleeps
    assert pacer.wait() == start + 5 * 1_000_000_000 // 30 and clock.sleeps == sleeps + 1


# -- the scenes: still by default, the panning street on request -----------------------------------
def _sd_at(src: SyntheticSource, t: float) -> np.ndarray:
    """The sd Y plane the source draws for capture time ``t`` (seconds)."""
    from capture.sources.synthetic import _SyntheticFrame
    hd, sd = _planes(1280, 720), _planes(640, 480)
    _SyntheticFrame(int(t * 1e9), 0, src, 1).fill(hd, sd)
    return sd[0].astype(np.int16)


@pytest.mark.slow
def test_the_default_scene_is_a_still_camera_with_someone_passing_now_and_then(tmp_path) -> None:
    from capture.sources.registry import open_source
    from common.config import load
    from tests.support.procs import isolated_env
    cfg = load(isolated_env(tmp_path))
    source = open_source("synthetic", 0, cfg)
    assert isinstance(source, SyntheticSource) and source.script is not None
    every = cfg.camera.synthetic_motion_every
    assert every >= 30, "now and then, not all the time"
    empty = [t for t in (every * 10 + every / 2 + k for k in range(4)) if source.script.figure_x(t) is None]
    assert len(empty) == 4, "nobody in view half-way between two crossings"
    a, b = _sd_at(source, empty[0]), _sd_at(source, empty[-1])
    # Three seconds apart with nobody passing: only sensor noise and a slow light change.
    assert np.abs(a - b).mean() < 6, np.abs(a - b).mean()
    crossing = every * 10 + source.script.sd_enter_after + 1.0
    c = _sd_at(source, crossing)
    assert (np.abs(c - a) > 40).sum() > 1000, "the figure is seen while it crosses"


@pytest.mark.slow
def test_the_street_scene_pans_with_motion_all_the_time() -> None:
    street = SyntheticSource(0, 30, "street")
    assert street.script is None
    a, b = _sd_at(street, 100.0), _sd_at(street, 103.0)
    assert np.abs(a - b).mean() > 10, np.abs(a - b).mean()


def test_still_scene_with_nobody_passing() -> None:
    from capture.sources.synthetic import MotionScript
    script = MotionScript(0)
    assert script.sd_entries(0, 1e6) == []
    assert all(script.figure_x(t) is None for t in range(0, 600, 7))
