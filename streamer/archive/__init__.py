"""The recordings, their motion events, their health and exports, as the web app serves them.

What the rest of the streamer uses: the four routers.
"""
from streamer.archive.events import router as events_router
from streamer.archive.export import router as export_router
from streamer.archive.health import router as health_router
from streamer.archive.recordings import router as recordings_router

__all__ = ["events_router", "export_router", "health_router", "recordings_router"]
