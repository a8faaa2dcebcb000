"""Signed session cookies: the page's login, kept by the browser, checked without a table.

The cookie holds the user name, an expiry, a random session id and a fingerprint of the
user's password hash, signed with HMAC-SHA256 under a secret made on first start
(``<run dir>/session.key``, 0600).  A new password or a removed account ends that user's
sessions (the fingerprint no longer matches); logging out ends one session
(:mod:`streamer.auth.logouts` remembers its id until it would have expired).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from common.state.jsonfile import make_private_dir, open_private

COOKIE = "sht_session"
SECRET_FILE = "session.key"
LIFETIME_S = 7 * 24 * 3600
SECRET_BYTES = 32
ID_BYTES = 9            # a session's id: 72 random bits, 12 characters


@dataclass(frozen=True)
class Token:
    """What a valid session cookie says."""

    user: str
    fingerprint: str      # of the user's password hash when the session began
    id: str
    expires: int          # Unix time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(run_dir: Path) -> bytes:
    """The signing secret, made (0600) on first use; every worker reads the same one.

    A new secret is written in full to a temporary file and then linked into place, which
    fails if another worker got there first: nobody ever reads a half-written secret.
    """
    make_private_dir(Path(run_dir))
    path = Path(run_dir) / SECRET_FILE
    for _ in range(3):
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            secret = b""
        if len(secret) >= SECRET_BYTES:
            return secret
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.tmp")
        with os.fdopen(open_private(tmp), "wb") as fh:
            fh.write(os.urandom(SECRET_BYTES))
        try:
            if secret:       # too short to be ours (an old crash): replace it
                os.replace(tmp, path)
            else:
                os.link(tmp, path)
        except FileExistsError:
            pass             # another worker made it: read theirs
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_bytes()


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class Sessions:
    def __init__(self, secret: bytes, lifetime_s: float = LIFETIME_S) -> None:
        self.secret, self.lifetime_s = secret, lifetime_s

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())

    def issue(self, name: str, password_hash: str) -> str:
        payload = _b64(json.dumps({"u": name, "e": int(time.time() + self.lifetime_s),
                                   "f": fingerprint(password_hash), "i": _b64(os.urandom(ID_BYTES))},
                                  separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def read(self, token: str) -> Token | None:
        """The contents of a valid, unexpired token, else None."""
        # Only ASCII can be ours (and compare_digest raises on any other str).
        if len(token) > 512 or not token.isascii() or token.count(".") != 1:
            return None
        payload, sig = token.split(".")
        if not hmac.compare_digest(sig, self._sign(payload)):
            return None
        try:
            doc = json.loads(_unb64(payload))
            name, expires, fp, sid = doc["u"], doc["e"], doc["f"], doc["i"]
        except (ValueError, KeyError, TypeError):
            return None
        if not all(isinstance(v, str) for v in (name, fp, sid)) or not isinstance(expires, int):
            return None
        if expires < time.time():
            return None
        return Token(name, fp, sid, expires)
