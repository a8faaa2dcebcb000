"""The audit line: who did what, from where, in the log and as the status's last control."""
from __future__ import annotations

import logging
import time

from starlette.requests import HTTPConnection

from common.state.board import StatusBoard
from streamer.auth.access import identity

log = logging.getLogger("streamer")


def audit_action(conn: HTTPConnection, board: StatusBoard, action: str, note: str = "") -> None:
    """Log ``action`` with the user and address of the request that made it, and publish it."""
    who = identity(conn)
    log.info("control: %s by %s from %s%s", action, who.label(), who.address, note)
    board.publish_last_control({"action": action, "by": who.label(), "from": who.address, "at": time.time()})
