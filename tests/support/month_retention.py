"""The simulated month's one door into retention, and into what health says of it.

Retention as the recorder has it: each recorder holds a
:class:`~recorder.retention.diskguard.DiskGuard` built from its configuration and runs its
``check()`` from the recording loop every ``recorder.check_seconds``; the guards of both cameras
share a lock in the recordings root.
The month calls :meth:`Retention.run` where a recorder's loop would, with the simulated wall
clock.  Of the retention rule (:class:`~tests.support.month_rule.Rule`) this guard knows only
``event_keep_days`` (with its own meaning: event segments outlive the oldest plain one by that
much).  A retention of another shape changes this module only.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common.config import Config
from recorder.retention.diskguard import DiskGuard
from tests.support.month_rule import Rule


@dataclass(frozen=True)
class Binding:
    """What health says retention keeps."""

    continuous_hours: float          # of the camera that has the fewest
    event_days: float | None         # age of the oldest event segment kept; None: none kept
    event_percent: float | None      # event segments outside the continuous window, % of the recordings' space


class Retention:
    def __init__(self, cfg: Config, rule: Rule, wall: Callable[[], float]) -> None:
        rc = cfg.recorder
        self.guards = [DiskGuard(cfg.recordings_root, rc.disk_warn_gb, rc.free_floor_gb, rc.free_target_gb,
                                 rc.retention, rc.quota_gb, rc.max_age_days, now=wall,
                                 event_keep_days=rule.event_keep_days)
                       for _ in range(cfg.camera.count)]

    def run(self, camera: int, full: bool = False) -> None:
        """What camera ``camera``'s recorder does every ``recorder.check_seconds`` (``full``: and
        when a write just failed for lack of space)."""
        self.guards[camera].check(full)

    def status(self, camera: int) -> dict[str, Any]:
        """The retention part of the camera's recorder status document."""
        g = self.guards[camera].state
        return {"disk_free_bytes": g.free_bytes, "disk_warning": g.warning, "disk_error": g.error, "retention": True,
                "retention_state": g.retention, "retention_undeletable": g.undeletable,
                "retention_deleted_count": g.deleted_count, "retention_deleted_bytes": g.deleted_bytes}

    def close(self) -> None:
        for guard in self.guards:
            guard.index.close()


def binding_of(health: dict[str, Any]) -> Binding | None:
    """What ``/api/health``'s document says retention keeps; None when it does not say (it does not yet)."""
    return None
