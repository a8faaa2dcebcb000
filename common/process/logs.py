"""A process's logs: repeated lines from one cause limited, and the log folder private.

A client that makes the same thing go wrong many times a second (a malformed request, a
refused header) would otherwise write a line, or a traceback, each time, and rotate the
log files, with what they recorded before, away within minutes.  :class:`RepeatLimit`
lets ``per_window`` lines of one cause through per ``window_s`` and counts the rest; the
next line of that cause let through says how many were left out.  A cause is the logger,
the message's format (not its values) and the exception's type, refined by an
``extra={"cause": ...}`` where the caller knows better.

:func:`private_log_dir` takes other users' access off the log folder and its files:
supervisord opens its own log before it applies its umask.
"""
from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections import OrderedDict
from pathlib import Path

MAX_CAUSES = 256                 # causes remembered (the oldest forgotten first)
LOG_DIR_MODE = 0o750
LOG_FILE_MODE = 0o640


class RepeatLimit(logging.Filter):
    def __init__(self, per_window: int = 10, window_s: float = 60.0, max_causes: int = MAX_CAUSES) -> None:
        super().__init__()
        self.per_window, self.window_s, self.max_causes = per_window, window_s, max_causes
        self._causes: OrderedDict[tuple[object, ...], list[float]] = OrderedDict()   # [start, lines, left out]
        self._lock = threading.Lock()   # handlers are shared by the threads of a process

    @staticmethod
    def cause(record: logging.LogRecord) -> tuple[object, ...]:
        exc = record.exc_info[0] if record.exc_info else None
        return record.name, str(getattr(record, "repeat_msg", record.msg)), exc, getattr(record, "cause", None)

    def filter(self, record: logging.LogRecord) -> bool:
        key, now = self.cause(record), time.monotonic()
        with self._lock:
            entry = self._causes.get(key)
            if entry is None or now - entry[0] >= self.window_s:
                left_out = int(entry[2]) if entry is not None else 0
                entry = self._causes[key] = [now, 0, 0]
                if left_out and isinstance(record.msg, str):
                    # No % in the note: the message is formatted with its args later.
                    record.repeat_msg = getattr(record, "repeat_msg", record.msg)
                    record.msg += f" [and {left_out} more like this in the {self.window_s:g} s before, not logged]"
            self._causes.move_to_end(key)
            while len(self._causes) > self.max_causes:
                self._causes.popitem(last=False)
            entry[1] += 1
            if entry[1] <= self.per_window:
                return True
            entry[2] += 1
            return False


def limit_repeats(*loggers: str, limit: RepeatLimit | None = None) -> RepeatLimit:
    """Put one :class:`RepeatLimit` on every handler of the root logger and of ``loggers``
    (those that do not pass their lines to the root); returns it.  Done once per handler."""
    limit = limit or RepeatLimit()
    for logger in (logging.getLogger(), *map(logging.getLogger, loggers)):
        for handler in logger.handlers:
            if not any(isinstance(f, RepeatLimit) for f in handler.filters):
                handler.addFilter(limit)
    return limit


def private_log_dir(folder: Path) -> None:
    """Make the log folder (0750) and take other users' bits off it and its files."""
    folder.mkdir(mode=LOG_DIR_MODE, parents=True, exist_ok=True)
    for path, mode in ((folder, LOG_DIR_MODE), *((p, LOG_FILE_MODE) for p in folder.iterdir())):
        try:
            st = path.lstat()
            if st.st_uid == os.getuid() and not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o007:
                os.chmod(path, stat.S_IMODE(st.st_mode) & mode)
        except OSError:
            pass   # gone meanwhile, or not ours to change
