"""``python -m offsite``: copies of the recordings off the box, with rclone (:mod:`offsite.uploader`).

Off while ``offsite.remote`` is empty: the program then says so once, publishes that it is off
and waits for the stop signal, so the supervisor keeps it up without a restart loop.  It runs at
the lowest CPU priority (nice 19) and rclone in the idle I/O class: recording comes first.
"""
from __future__ import annotations

import logging
import signal
import sys

from common.archive.mount import mount_problem
from common.process.priority import lower_priority
from common.process.startup import start_service
from common.state.board import StatusBoard
from common.state.documents import OffsiteStatus
from offsite.uploader import Uploader

log = logging.getLogger("offsite")
NICE = 19
DISK_WAIT_S = 5.0


def main(argv: list[str] | None = None) -> int:
    cfg, stop = start_service()
    lower_priority(NICE, "offsite")
    if not cfg.offsite.remote:
        log.info("offsite.remote is empty: no off-site copies")
        off: OffsiteStatus = {"pid": 0, "enabled": False, "remote": "", "mode": cfg.offsite.mode, "state": "off",
                              "cameras": {}, "sent_segments": 0, "sent_bytes": 0, "last_sent_at": None,
                              "lost_before_upload": 0, "last_error": "",
                              "last_error_cause": None, "last_error_at": None,
                              "max_lag_minutes": cfg.offsite.max_lag_minutes}
        StatusBoard.for_config(cfg).publish_offsite(off, final=True)
        return stop.idle()
    # The queue lives with the recordings: never made on the SD card under an empty mount point.
    if not stop.wait_while(lambda: mount_problem(cfg.recordings_root, cfg.recorder.require_mount),
                           "off-site copies", DISK_WAIT_S, log):
        return 0
    cfg.recordings_root.mkdir(parents=True, exist_ok=True)
    uploader = Uploader(cfg)
    signal.signal(signal.SIGTERM, uploader.stop)
    signal.signal(signal.SIGINT, uploader.stop)
    log.info("sending %s segments to the remote (bwlimit %s)", cfg.offsite.mode, cfg.offsite.bwlimit or "off")
    return uploader.run()


if __name__ == "__main__":
    sys.exit(main())
