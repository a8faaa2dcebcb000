"""rclone, run once per file: ``copyto`` to send, ``lsjson --stat --hash`` to confirm.

One short run per segment rather than a long-lived ``rclone rcd``: each run's exit code and error
output belong to one file, a kill -9 of the uploader leaves no daemon with a half-known state
(the child dies with its parent: ``PR_SET_PDEATHSIG``), and a changed configuration takes effect
at the next file.  The cost, a process start per 30-second segment, is small beside the upload.
A run that was cut off mid-file leaves a partial remote file that the next ``copyto`` replaces
(its size differs), and nothing is marked sent before the remote's size and hash are checked.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from offsite.causes import Cause, classify, last_line

COPY_TIMEOUT_S = 3600.0     # one 30-second segment at a few kbit/s still fits
STAT_TIMEOUT_S = 120.0
# Slow retries inside rclone would hide an outage from the page: fail fast, the queue retries.
_QUICK = ["--retries", "1", "--low-level-retries", "2", "--contimeout", "10s", "--timeout", "30s"]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    cause: Cause | None = None
    error: str = ""


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except OSError:
        pass


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Rclone:
    """Sends files under ``remote`` (an rclone remote path), ``bwlimit`` as rclone takes it."""

    def __init__(self, remote: str, bwlimit: str = "", binary: str = "rclone") -> None:
        self.remote = remote.rstrip("/")
        self.bwlimit = bwlimit
        self.binary = binary
        # Idle I/O class where there is ionice: the recorders' writes go first.
        self.prefix = ["ionice", "-c", "3"] if shutil.which("ionice") else []

    def target(self, file: str) -> str:
        return f"{self.remote}/{file}"

    def _run(self, args: list[str], timeout: float) -> tuple[int, str, str]:
        try:
            done = subprocess.run([*self.prefix, self.binary, *args], capture_output=True, text=True,
                                  timeout=timeout, preexec_fn=_die_with_parent, check=False)
        except subprocess.TimeoutExpired:
            return 5, "", "timeout: rclone took too long"
        except OSError as exc:
            return 127, "", f"cannot run {self.binary}: {exc}"
        return done.returncode, done.stdout, done.stderr

    def send(self, local: Path, file: str) -> Outcome:
        """Copy ``local`` to ``file`` under the remote and confirm it arrived whole."""
        args = ["copyto", str(local), self.target(file), *_QUICK]
        if self.bwlimit:
            args += ["--bwlimit", self.bwlimit]
        code, _, err = self._run(args, COPY_TIMEOUT_S)
        if code != 0:
            cause = classify(code, err)
            if cause == "other" and (free := self.free_bytes()) is not None and free < local.stat().st_size:
                return Outcome(False, "quota", f"{free} bytes free on the remote, {local.stat().st_size} needed: "
                                               f"{last_line(err)}")
            return Outcome(False, cause, last_line(err))
        return self.confirm(local, file)

    def free_bytes(self) -> int | None:
        """The remote's free space as it tells it (``rclone about``); None where it does not.

        A full remote does not always say so: OpenSSH's SFTP server answers a failed write with
        a bare "Failure" whatever the reason, so a failure without a known cause is checked
        against the space left."""
        code, out, _ = self._run(["about", "--json", self.remote, *_QUICK], STAT_TIMEOUT_S)
        try:
            free = json.loads(out).get("free") if code == 0 else None
        except (ValueError, AttributeError):
            return None
        return int(free) if isinstance(free, (int, float)) else None

    def confirm(self, local: Path, file: str) -> Outcome:
        """Does the remote hold ``file`` with ``local``'s size (and MD5 where it tells one)?"""
        code, out, err = self._run(["lsjson", "--stat", "--hash", "--hash-type", "md5", self.target(file),
                                    *_QUICK], STAT_TIMEOUT_S)
        if code != 0:
            return Outcome(False, classify(code, err), last_line(err))
        try:
            entry = json.loads(out)
            size = int(entry["Size"])
            remote_md5 = (entry.get("Hashes") or {}).get("md5", "")
        except (ValueError, KeyError, TypeError) as exc:
            return Outcome(False, "other", f"unreadable answer from rclone lsjson: {exc}")
        if size != local.stat().st_size:
            return Outcome(False, "other", f"remote size {size} differs from {local.stat().st_size}")
        if remote_md5 and remote_md5 != md5_of(local):
            return Outcome(False, "other", "remote MD5 differs from the local file's")
        return Outcome(True)

    def delete_older(self, days: int) -> Outcome:
        """Remote retention: delete files older than ``days`` under the remote."""
        code, _, err = self._run(["delete", "--min-age", f"{days}d", self.remote, *_QUICK], COPY_TIMEOUT_S)
        return Outcome(True) if code == 0 else Outcome(False, classify(code, err), last_line(err))
