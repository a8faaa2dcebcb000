"""Small JSON state files that several processes share: safe reads, atomic writes, a lock.

* :func:`load_json` never raises for a bad file: missing, garbage, truncated, invalid
  UTF-8, of the wrong type, a directory, a FIFO or unreadable all read as "no document",
  with the reason; each bad version of a file is logged once, not on every read.
* :func:`write_json_atomic` writes a temporary file in the same folder and renames it
  over the target, so readers see the old or the new document, never half of one; a
  directory in the way is moved aside (``<name>.bad``) first.
* :class:`FileLock`: an exclusive ``flock`` (the kernel drops it when its holder dies), waited
  for without end or for a while.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import stat
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("state")

PRIVATE_FILE = 0o600       # state files, locks and secrets: other local users read nothing
PRIVATE_DIR = 0o700
MAX_BYTES = 1 << 20        # a state file is a few kB; anything larger is not one of ours
LOCK_POLL_S = 0.02         # how often a lock taken with a timeout is asked for again
_LOGGED_MAX = 64           # bad files remembered so each is logged once (bounded)
_logged: OrderedDict[str, tuple[object, ...]] = OrderedDict()


@dataclass(frozen=True)
class Loaded:
    data: Any | None       # the document, or None
    problem: str = ""      # why a file that exists could not be used ("" when fine or missing)


def _log_once(path: Path, version: tuple[object, ...], problem: str) -> None:
    key = str(path)
    if _logged.get(key) == version:
        return
    _logged[key] = version
    _logged.move_to_end(key)
    while len(_logged) > _LOGGED_MAX:
        _logged.popitem(last=False)
    log.warning("state file %s: %s; using defaults", path, problem)


def note_bad(path: Path, problem: str) -> None:
    """Log, once per version of the file, that a readable document holds values we cannot use."""
    try:
        st = os.stat(path)
        version: tuple[object, ...] = (st.st_ino, st.st_mtime_ns, st.st_size, "values")
    except OSError:
        version = ("values",)
    _log_once(path, version, problem)


def load_json(path: Path, expect: type | None = dict, mine: bool = False) -> Loaded:
    """The JSON document in ``path`` (of type ``expect`` when given), or why not.

    ``mine``: the file lies in a folder every local user may write to (``/dev/shm``): one
    that another user made is not read, so nobody else can pose as one of our processes."""
    try:
        # O_NONBLOCK: a FIFO put in the file's place must not hang the reader.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return Loaded(None)
    except OSError as exc:
        problem = f"cannot be opened ({exc.strerror or exc})"
        _log_once(path, ("open", exc.errno), problem)
        return Loaded(None, problem)
    try:
        st = os.fstat(fd)
        version: tuple[object, ...] = (st.st_ino, st.st_mtime_ns, st.st_size)
        if not stat.S_ISREG(st.st_mode):
            problem = "is not a regular file" + (" (a directory)" if stat.S_ISDIR(st.st_mode) else "")
        elif mine and st.st_uid != os.geteuid():
            problem = f"belongs to another user (uid {st.st_uid})"
        elif st.st_size > MAX_BYTES:
            problem = f"is too large ({st.st_size} bytes)"
        else:
            problem = ""
            raw = _read_all(fd, st.st_size)
            try:
                data = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                problem = "is not UTF-8 text"
            except (ValueError, RecursionError):
                problem = "is not valid JSON (garbage or truncated)"
            else:
                if expect is None or isinstance(data, expect):
                    return Loaded(data)
                problem = f"holds a JSON {type(data).__name__}, not an {expect.__name__}"
    except OSError as exc:
        version, problem = ("read", exc.errno), f"cannot be read ({exc.strerror or exc})"
    finally:
        os.close(fd)
    _log_once(path, version, problem)
    return Loaded(None, problem)


def _read_all(fd: int, size: int) -> bytes:
    """Up to MAX_BYTES + 1 bytes of ``fd``: plain reads, no buffered file object around them
    (the viewer table is read about once a second by every busy worker)."""
    parts, got = [], 0
    while got <= MAX_BYTES:
        part = os.read(fd, max(size - got, 0) + 4096)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def read_json(path: Path, expect: type | None = dict, mine: bool = False) -> Any | None:
    """The document, or None when the file is missing or unusable (logged once)."""
    return load_json(path, expect, mine).data


def clear_way(path: Path) -> None:
    """Move a directory (or anything not a regular file) at ``path`` aside, so a file can go there."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISREG(st.st_mode):
        return
    aside = path.with_name(path.name + ".bad")
    if stat.S_ISDIR(st.st_mode):
        if aside.is_dir() and not aside.is_symlink():
            shutil.rmtree(aside, ignore_errors=True)
        os.replace(path, aside)
        log.warning("state file %s was a directory; moved aside to %s", path, aside.name)
    else:
        os.unlink(path)  # a FIFO, socket or symlink: nothing of value in it


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """A file descriptor for a file only this user can read (mode 0600 when created)."""
    return os.open(path, flags | os.O_CLOEXEC, PRIVATE_FILE)


def make_private_dir(path: Path) -> None:
    """Make ``path`` 0700 if missing; an existing folder keeps its mode (it may be shared, as /tmp)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file in the same folder, then rename over the target."""
    write_atomic(path, json.dumps(data, separators=(",", ":")).encode())  # dumps: the one-shot form: C encoder


def write_atomic(path: Path, text: bytes) -> None:
    """``text`` to a temporary file in the same folder, then renamed over the target."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = open_private(tmp)
    try:
        view = memoryview(text)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno not in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            os.unlink(tmp)
            raise
        clear_way(path)
        os.replace(tmp, path)


class FileLock:
    """An exclusive ``flock`` on ``path`` (created when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._folder_made = False

    def _open(self) -> int:
        if not self._folder_made:
            make_private_dir(self.path.parent)
            self._folder_made = True
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, PRIVATE_FILE)
        except FileNotFoundError:
            # The folder went away since (a cleaned run directory): make it again, once.
            make_private_dir(self.path.parent)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, PRIVATE_FILE)
        except OSError:
            # A directory (or something we may not open) where the lock belongs: move it aside.
            clear_way(self.path)
            try:
                os.unlink(self.path)
            except (FileNotFoundError, IsADirectoryError):
                pass
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, PRIVATE_FILE)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Wait for the lock and hold it for the block."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the lock

    @contextmanager
    def try_held(self, timeout: float = 0.0) -> Iterator[bool]:
        """Hold the lock for the block if it is free within ``timeout`` seconds (asked again
        every ``LOCK_POLL_S``: ``flock`` itself cannot time out); yields whether it was taken."""
        fd = self._open()
        give_up = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= give_up:
                        yield False
                        return
                    time.sleep(LOCK_POLL_S)
            yield True
        finally:
            os.close(fd)
