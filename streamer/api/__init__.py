"""The streamer's API besides live viewing and recordings: status, and the legacy control routes.

What the rest of the streamer uses: :class:`ApiContext` (``app.state.rt``) and the routers.
"""
from streamer.api.context import ApiContext
from streamer.api.controls import router as controls_router
from streamer.api.status import router as status_router

__all__ = ["ApiContext", "controls_router", "status_router"]
