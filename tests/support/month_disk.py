"""The simulated month's disk and user: a small real file system, files that are not ours beside
and behind symlinks, and a recorder that is not root.

* :func:`tmpfs` mounts a tmpfs of a given size (so free space is the kernel's, as on a full SD
  card) and unmounts it afterwards; it needs root.
* :func:`lay_out` makes the recordings root on it and what retention must never touch: another
  tree of segment-named files beside the root, and three symlinks inside the root that lead out
  of it (a camera folder, a day folder, a segment file); :func:`outside` snapshots everything
  that is not under the root, to compare later.
* :func:`as_user` runs the simulation in a child process as an unprivileged user (root reads and
  deletes anything, so a folder it may not read would mean nothing), with the whole disk given
  to that user; the parent stays root and does, on the child's request, what a ``sudo`` run does
  to a day folder (:class:`Sudo`).  The child cannot read the Python installation once it is
  that user: everything it runs must be imported before (see ``tests.support.month_sim``).
"""
from __future__ import annotations

import json
import os
import pwd
import subprocess
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

USER = "nobody"
SENTINEL_BYTES = 8192
SENTINEL_MTIME = 1_756_684_800.0   # 2025-09-01: older than anything the month records


@contextmanager
def tmpfs(size_bytes: int) -> Iterator[Path]:
    """A fresh tmpfs of ``size_bytes`` mounted at a new folder; unmounted and removed afterwards."""
    where = Path(tempfile.mkdtemp(prefix="sht-month-"))
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0755", "sht-month", str(where)],
                       check=True, capture_output=True, text=True)
        try:
            yield where
        finally:
            if subprocess.run(["umount", str(where)], capture_output=True).returncode:
                # Still open in this process (a thread's database connection): detach it now, the
                # kernel frees it when the last file is closed.
                subprocess.run(["umount", "--lazy", str(where)], check=True, capture_output=True, text=True)
    finally:
        where.rmdir()


@dataclass(frozen=True)
class Layout:
    mount: Path
    root: Path      # the recordings root


def _sentinel(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00" * SENTINEL_BYTES)
    os.utime(path, (SENTINEL_MTIME, SENTINEL_MTIME))


def lay_out(mount: Path) -> Layout:
    root = mount / "rec"
    root.mkdir()
    for day, stamp in (("250901", "20250901_000000"), ("250901", "20250901_000030")):
        _sentinel(mount / "beside" / "cam0" / day / f"cam0_{stamp}.mp4")   # another root beside ours
        _sentinel(mount / "outside" / "day" / f"cam0_{stamp}.mp4")
        _sentinel(mount / "outside" / "cam7" / day / f"cam7_{stamp}.mp4")
    _sentinel(mount / "outside" / "loose.mp4")
    (root / "cam0").mkdir()
    (root / "cam0" / "250901").symlink_to(mount / "outside" / "day")           # a day folder elsewhere
    (root / "cam7").symlink_to(mount / "outside" / "cam7")                     # a camera folder elsewhere
    (root / "cam1" / "250902").mkdir(parents=True)
    (root / "cam1" / "250902" / "cam1_20250902_000000.mp4").symlink_to(mount / "outside" / "loose.mp4")
    return Layout(mount, root)


def outside(layout: Layout) -> dict[str, tuple[Any, ...]]:
    """Every path on the disk but the recordings root and what is under it, with what a change
    would alter (type, size, times, inode, a symlink's target); symlinks are not followed."""
    found: dict[str, tuple[Any, ...]] = {}
    for folder, dirs, files in os.walk(layout.mount):
        if Path(folder) == layout.mount:
            dirs[:] = [d for d in dirs if layout.mount / d != layout.root]
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            target = os.readlink(path) if os.path.islink(path) else ""
            found[os.path.relpath(path, layout.mount)] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                                          st.st_ino, target)
    return found


def touched(before: dict[str, tuple[Any, ...]], now: dict[str, tuple[Any, ...]]) -> list[str]:
    """What changed between two snapshots of :func:`outside`."""
    return sorted(f"{p}: {'removed' if p not in now else 'added' if p not in before else 'changed'}"
                  for p in before.keys() | now.keys() if before.get(p) != now.get(p))


class Sudo:
    """The child's line to its root parent: what a ``sudo`` run does to a day folder."""

    def __init__(self, requests: int, replies: int) -> None:
        self._out = os.fdopen(requests, "w", buffering=1)
        self._in = os.fdopen(replies, "r")

    def _ask(self, message: dict[str, Any]) -> None:
        self._out.write(json.dumps(message) + "\n")
        answer = self._in.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"root did not do {message}: {answer or 'no answer'}")

    def take(self, folder: Path) -> None:
        """Make ``folder`` root's, mode 0700: the user may neither list nor change it."""
        self._ask({"op": "take", "path": str(folder)})

    def give_back(self, folder: Path) -> None:
        self._ask({"op": "give back", "path": str(folder)})

    def finish(self, report: dict[str, Any]) -> None:
        self._out.write(json.dumps({"op": "done", "report": report}) + "\n")
        self._out.flush()

    def failed(self, error: str) -> None:
        self._out.write(json.dumps({"op": "failed", "error": error}) + "\n")
        self._out.flush()


def _serve(message: dict[str, Any], mount: Path, uid: int, gid: int) -> str:
    path = Path(message.get("path", ""))
    if mount not in path.parents:
        return f"{path} is not on the simulated disk"
    if message["op"] == "take":
        os.chown(path, 0, 0)
        os.chmod(path, 0o700)
    elif message["op"] == "give back":
        os.chown(path, uid, gid)
        os.chmod(path, 0o755)
    else:
        return f"unknown request {message['op']!r}"
    return "ok"


def as_user(mount: Path, writable: list[Path], work: Callable[[Sudo], dict[str, Any]]) -> dict[str, Any]:
    """``work(sudo)`` in a forked child running as :data:`USER`, which owns ``mount`` and
    ``writable``; returns its report.  Raises when the child fails."""
    user = pwd.getpwnam(USER)
    for top in (mount, *writable):
        os.chown(top, user.pw_uid, user.pw_gid)
        for folder, dirs, files in os.walk(top):
            for name in dirs + files:
                os.chown(os.path.join(folder, name), user.pw_uid, user.pw_gid, follow_symlinks=False)
    requests = os.pipe()
    replies = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: drop root for good, do the work, say how it went
        code = 1
        try:
            os.close(requests[0])
            os.close(replies[1])
            sudo = Sudo(requests[1], replies[0])
            os.setgroups([])
            os.setresgid(user.pw_gid, user.pw_gid, user.pw_gid)
            os.setresuid(user.pw_uid, user.pw_uid, user.pw_uid)
            try:
                sudo.finish(work(sudo))
                code = 0
            except BaseException:
                sudo.failed(traceback.format_exc())
        finally:
            os._exit(code)
    os.close(requests[1])
    os.close(replies[0])
    report: dict[str, Any] | None = None
    error = ""
    with os.fdopen(requests[0], "r") as inbox, os.fdopen(replies[1], "w", buffering=1) as outbox:
        for line in inbox:
            message = json.loads(line)
            if message["op"] == "done":
                report = message["report"]
            elif message["op"] == "failed":
                error = message["error"]
            else:
                outbox.write(_serve(message, mount, user.pw_uid, user.pw_gid) + "\n")
    _, status = os.waitpid(pid, 0)
    if report is None:
        raise RuntimeError(f"the simulation failed (wait status {status}):\n{error}")
    return report
