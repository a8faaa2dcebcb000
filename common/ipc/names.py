"""POSIX shared-memory names of the rings, declared once: ``/<prefix>cam<N>_<kind>``.

``ring.prefix`` keeps two installations on one machine apart; tests give every system
its own prefix.
"""
from __future__ import annotations


def ring_name(prefix: str, camera: int, stream: str) -> str:
    """POSIX shared-memory name of a camera stream's ring."""
    return f"/{prefix}cam{camera}_{stream}"


def packet_ring_name(prefix: str, camera: int) -> str:
    """POSIX shared-memory name of a camera's H.264 packet ring."""
    return f"/{prefix}cam{camera}_h264"
