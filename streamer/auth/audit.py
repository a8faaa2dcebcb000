"""The audit trail: who logged in and out and who changed what, in a file of its own.

Logins, logouts and control actions (pause, resume, view and resolution, exports) are logged to
the ``streamer.audit`` logger (:data:`audit_log`): its lines go to the streamer's log like any
other, and to ``<paths.log_dir>/audit.log`` (0640).  Only requests that passed the access
checks write there (a right password, an admin's change), and one cause (a user's logins,
one action of one user) at most PER_HOUR lines an hour, so no flood of requests can push
older lines out: the file keeps AUDIT_BYTES, then AUDIT_BACKUPS older files.

Every worker appends to the same file; a lock in the run folder keeps each line and each
rotation whole.
"""
from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

from starlette.requests import HTTPConnection

from common.process.logs import LOG_FILE_MODE, RepeatLimit, private_log_dir
from common.state.board import StatusBoard
from common.state.jsonfile import FileLock
from streamer.auth.access import identity

AUDIT_FILE = "audit.log"
AUDIT_LOCK = "audit.lock"
AUDIT_BYTES = 1 << 20
AUDIT_BACKUPS = 4
PER_HOUR = 20

audit_log = logging.getLogger("streamer.audit")
log = logging.getLogger("streamer")


class AuditFile(logging.Handler):
    def __init__(self, path: Path, lock: Path, max_bytes: int = AUDIT_BYTES, backups: int = AUDIT_BACKUPS) -> None:
        super().__init__()
        self.path, self.max_bytes, self.backups = Path(path), max_bytes, backups
        self._lock = FileLock(lock)
        self._failing = False
        self.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        self.addFilter(RepeatLimit(PER_HOUR, 3600.0))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record).replace("\n", " ") + "\n").encode("utf-8", "replace")
            with self._lock.held():
                fd = self._open()
                try:
                    size = os.fstat(fd).st_size
                    if size and size + len(line) > self.max_bytes:
                        os.close(fd)
                        fd = -1
                        self._rotate()
                        fd = self._open()
                    os.write(fd, line)
                finally:
                    if fd >= 0:
                        os.close(fd)
            self._failing = False
        except OSError as exc:
            if not self._failing:   # once per run of failures
                self._failing = True
                log.error("audit log %s cannot be written: %s", self.path, exc)

    def _open(self) -> int:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, LOG_FILE_MODE)
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & ~LOG_FILE_MODE:
            os.fchmod(fd, mode & LOG_FILE_MODE)
        return fd

    def _rotate(self) -> None:
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))


def attach(log_dir: Path, run_dir: Path) -> AuditFile:
    """Write this process's audit lines to ``log_dir/audit.log`` (the folder made private)."""
    private_log_dir(Path(log_dir))
    for old in [h for h in audit_log.handlers if isinstance(h, AuditFile)]:
        audit_log.removeHandler(old)
    handler = AuditFile(Path(log_dir) / AUDIT_FILE, Path(run_dir) / AUDIT_LOCK)
    audit_log.addHandler(handler)
    audit_log.setLevel(logging.INFO)
    return handler


def audit_action(conn: HTTPConnection, board: StatusBoard, action: str, note: str = "") -> None:
    """Log ``action`` with the user and address of the request that made it, and publish it
    as the status's last control."""
    who = identity(conn)
    audit_log.info("control: %s by %s from %s%s", action, who.label(), who.address, note,
                   extra={"cause": f"{who.label()} {action}"})
    board.publish_last_control({"action": action, "by": who.label(), "from": who.address, "at": time.time()})
