"""``libcamera.controls``: the enumerations the project passes as control values.

The values are libcamera's (control_ids_core.yaml): AfModeManual 0, AfModeAuto 1,
AfModeContinuous 2; picamera2's own autofocus helpers use these names.
"""
from __future__ import annotations

import enum

__all__ = ["AfModeEnum"]


class AfModeEnum(enum.IntEnum):
    Manual = 0
    Auto = 1
    Continuous = 2
