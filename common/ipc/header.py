"""What the headers of both ring kinds share: the writer's states.

A writer is ``starting`` until its first commit, ``running`` after it, and ``gone`` once it
closed (readers notice at once instead of waiting for its heartbeat to go stale).
"""
from __future__ import annotations

STATE_STARTING = 0
STATE_RUNNING = 1
STATE_GONE = 2
STATE_NAMES = {STATE_STARTING: "starting", STATE_RUNNING: "running", STATE_GONE: "gone"}
