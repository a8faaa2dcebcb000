"""The lens of a Pi camera that can focus (Camera Module 3): the controls that set it.

libcamera starts such a camera in manual focus at its tuning's default position (1.0
dioptre, about 1 m, in the IMX708 tuning files), so without these controls a camera
watching a yard keeps it blurred.  ``camera.autofocus``: ``continuous`` lets the camera
refocus by itself; ``manual`` holds the lens at ``camera.lens_position`` dioptres (1 /
distance in metres; 0 is infinity); ``off`` sets nothing.  A camera is known to focus when
it advertises ``AfMode`` among its controls.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def focus_controls(advertised: Mapping[str, Any], autofocus: str, lens_position: float) -> tuple[dict[str, Any], str]:
    """The controls to configure, and the focus in words for the log and the self-check."""
    if "AfMode" not in advertised:
        return {}, "fixed focus (the camera has no autofocus)"
    from libcamera import controls  # only here: it exists on a Pi alone

    if autofocus == "continuous":
        return {"AfMode": controls.AfModeEnum.Continuous}, "continuous autofocus (camera.autofocus)"
    if autofocus == "manual":
        where = "infinity" if lens_position == 0 else f"{1 / lens_position:.2g} m"
        return ({"AfMode": controls.AfModeEnum.Manual, "LensPosition": float(lens_position)},
                f"manual, lens at {lens_position:g} dioptres ({where}) (camera.autofocus, camera.lens_position)")
    return {}, "autofocus off: the lens stays where libcamera puts it (camera.autofocus = off)"
