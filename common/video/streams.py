"""The pictures every camera publishes, declared once: name -> (width, height).

``hd`` is what the camera gives (16:9); ``sd`` is its centre 4:3 crop, scaled down (never
squeezed).  Rings, encoders, the page and the recorder take their sizes from here.
"""
from __future__ import annotations

STREAMS: dict[str, tuple[int, int]] = {"hd": (1280, 720), "sd": (640, 480)}
