"""Live viewing: MJPEG views, snapshots and the low-data H.264 view, behind one gate.

What the rest of the streamer uses: the live routes, the worker's :class:`LiveRuntime`,
the camera readers (:class:`CameraWatch`), the stall rule's STALL_S, and
:func:`remove_shared_files` for the streamer's exit.
"""
from streamer.live.cameras import CameraWatch
from streamer.live.routes import router
from streamer.live.runtime import LiveRuntime, remove_shared_files
from streamer.live.session import STALL_S

__all__ = ["STALL_S", "CameraWatch", "LiveRuntime", "remove_shared_files", "router"]
