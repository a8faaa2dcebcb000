"""The simulated month's one door into retention, and into what health says of it.

Retention as the recorder has it: each recorder holds a
:class:`~recorder.retention.diskguard.DiskGuard` built from its configuration, tells it the
capture time at which each segment it finishes ended (``saw_segment``, the recorder's clock),
and runs its pass every ``recorder.check_seconds`` and at once when a write failed for lack of
space; the guards of both cameras share the recordings root and its lock.  Here the month calls
:meth:`Retention.run` where a recorder's retention thread would, with the simulated wall clock
and the simulated monotonic clock (true time), and without the pauses between a pass's steps.
A retention of another shape changes this module only.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common.config import Config
from common.state.documents import RetentionStatus
from recorder.retention.diskguard import DiskGuard
from recorder.retention.policy import Limits


@dataclass(frozen=True)
class Binding:
    """What health says retention keeps."""

    continuous_hours: float          # of the camera that has the fewest
    event_days: float | None         # age of the oldest event segment kept; None: none kept
    event_percent: float | None      # event segments outside the continuous window, % of the recordings' space


class Retention:
    def __init__(self, cfg: Config, wall: Callable[[], float], monotonic: Callable[[], float]) -> None:
        limits = Limits.of(cfg.recorder)
        self.guards = [DiskGuard(cfg.recordings_root, limits, now=wall, monotonic=monotonic, pause=lambda s: None)
                       for _ in range(cfg.camera.count)]

    def saw_segment(self, camera: int, capture_end: float) -> None:
        """Camera ``camera``'s recorder finished a segment whose last frame was captured at ``capture_end``."""
        self.guards[camera].saw_segment(capture_end)

    def run(self, camera: int, full: bool = False) -> None:
        """What camera ``camera``'s retention does every ``recorder.check_seconds`` (``full``: and
        when a write just failed for lack of space)."""
        self.guards[camera].check(full)

    def status(self, camera: int) -> RetentionStatus:
        """The retention part of the camera's recorder status document."""
        return self.guards[camera].status()

    def close(self) -> None:
        for guard in self.guards:
            guard.index.close()


def binding_of(health: dict[str, Any]) -> Binding | None:
    """What ``/api/health``'s document says retention keeps (each recorder counts both cameras;
    the camera whose count shows the least continuous time speaks); None when it does not say."""
    kept = [cam["retention"].get("kept") for cam in health["cameras"].values() if cam.get("retention")]
    counted = [k for k in kept if k]
    if not counted:
        return None
    least = min(counted, key=lambda k: k["continuous_h"])
    return Binding(least["continuous_h"], least["events_days"], least["event_percent"])
