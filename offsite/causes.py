"""Why an rclone run failed, in the words the page uses: auth, network, quota or other.

rclone's exit code says how bad (5: temporary, retry; 7: fatal, such as a suspended account),
not what; its last error lines say what.  The words below are those the backends use (SFTP,
WebDAV, S3, the local disk) for the three causes an owner can act on: fix the password or key,
the line, or make room on the remote.
"""
from __future__ import annotations

from typing import Literal

Cause = Literal["auth", "network", "quota", "other"]

_WORDS: tuple[tuple[Cause, tuple[str, ...]], ...] = (
    ("quota", ("quota", "no space left", "insufficient storage", "507", "disk full", "storage full",
               "entitytoolarge")),
    ("auth", ("unable to authenticate", "permission denied", "authentication", "unauthorized", "401", "403",
              "forbidden", "accessdenied", "access denied", "invalidaccesskeyid", "signaturedoesnotmatch",
              "ssh: handshake failed", "no supported methods remain")),
    ("network", ("connection refused", "no route to host", "network is unreachable", "i/o timeout", "timeout",
                 "no such host", "connection reset", "broken pipe", "eof", "dial tcp", "couldn't connect",
                 "tls handshake")),
)


def classify(returncode: int, stderr: str) -> Cause:
    """The cause of a failed rclone run from its exit code and error output."""
    text = stderr.lower()
    for cause, words in _WORDS:
        if any(w in text for w in words):
            return cause
    return "network" if returncode == 5 else "other"


def last_line(stderr: str, limit: int = 300) -> str:
    """The error line worth showing: rclone's last ERROR/Failed line, else its last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "ERROR" in ln or "Failed" in ln or "error" in ln]
    found = (errors or lines or [""])[-1]
    return found[-limit:]
