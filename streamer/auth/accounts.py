"""Accounts: names, roles and scrypt password hashes in ``<run dir>/users.json`` (0600).

``python -m streamer.users`` (:mod:`streamer.users`) manages them; a running streamer
sees changes at once.
Roles: ``viewer`` watches, takes snapshots and plays recordings; ``admin`` may also
pause and resume recording and change the shared defaults.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.state.jsonfile import make_private_dir, write_json_atomic

log = logging.getLogger("streamer")
USERS_FILE = "users.json"
ROLES = ("admin", "viewer")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
MAX_NAME = 32
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
# scrypt cost: 16 MiB of memory and some 50 ms per check on a desktop core.
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES = 2 ** 14, 8, 1, 32


class UserError(ValueError):
    """A name, role or password that cannot be used; the message is for the user."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    hash: str       # "scrypt$n$r$p$salt$key", base64 parts

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def check_name(name: str) -> str:
    if not 1 <= len(name) <= MAX_NAME or not set(name) <= NAME_CHARS:
        raise UserError(f"user name {name!r}: 1 to {MAX_NAME} letters, digits, '_', '.' or '-'")
    return name


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt" or len(password) > MAX_PASSWORD:
            return False
        want = base64.b64decode(key)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(want), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


class Users:
    """The accounts file, re-read when it changes (one stat per look).

    A file that exists but cannot be read or parsed locks everything (nobody can log in,
    and it is logged): failing open would hand the cameras to anyone on the network.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / USERS_FILE
        self._key: tuple[int, int, int] | None = None
        self._users: dict[str, User] = {}
        self.broken = ""        # why the accounts file cannot be used, when it cannot

    def all(self) -> dict[str, User]:
        try:
            st = os.stat(self.path)
            key = (st.st_mtime_ns, st.st_ino, st.st_size)
        except FileNotFoundError:
            self._key, self._users, self.broken = None, {}, ""
            return {}
        except OSError as exc:
            key = (-1, -1, exc.errno or 0)
        if key != self._key:
            self._key = key
            self._users, self.broken = self._load()
            if self.broken:
                log.error("accounts: %s: %s; nobody can log in until it is fixed "
                          "(python -m streamer.users add NAME --role admin rewrites it)", self.path, self.broken)
        return self._users

    def _load(self) -> tuple[dict[str, User], str]:
        try:
            with open(self.path, "rb") as fh:
                doc = json.loads(fh.read(1 << 20))
        except OSError as exc:
            return {}, f"cannot be read ({exc.strerror or exc})"
        except ValueError as exc:
            return {}, f"is not valid JSON ({exc})"
        if not isinstance(doc, dict) or not isinstance(doc.get("users"), dict):
            return {}, 'is not of the form {"users": {...}}'
        return self._parse(doc), ""

    @staticmethod
    def _parse(doc: Any) -> dict[str, User]:
        users: dict[str, User] = {}
        table = doc.get("users") if isinstance(doc, dict) else None
        for name, entry in (table or {}).items():
            if (isinstance(entry, dict) and entry.get("role") in ROLES and isinstance(entry.get("hash"), str)
                    and isinstance(name, str)):
                users[name] = User(name, entry["role"], entry["hash"])
        return users

    def any(self) -> bool:
        """Accounts are in force (also when their file is broken: then nobody gets in)."""
        return bool(self.all()) or bool(self.broken)

    def get(self, name: str) -> User | None:
        return self.all().get(name)

    def check(self, name: str, password: str) -> User | None:
        """The user when the password is right (the same work is done for an unknown name)."""
        user = self.get(name)
        ok = verify_password(password, user.hash if user else _DUMMY_HASH)
        return user if ok and user is not None else None

    def _save(self, users: dict[str, User]) -> None:
        make_private_dir(self.run_dir)
        write_json_atomic(self.path, {"users": {u.name: {"role": u.role, "hash": u.hash}
                                                for u in sorted(users.values(), key=lambda u: u.name)}})

    def add(self, name: str, password: str, role: str) -> bool:
        """Add or replace; True when the name was new."""
        if role not in ROLES:
            raise UserError(f"role {role!r}: allowed values are {', '.join(ROLES)}")
        users = dict(self._load()[0])    # a broken file is replaced
        new = check_name(name) not in users
        users[name] = User(name, role, hash_password(password))
        self._save(users)
        return new

    def remove(self, name: str) -> bool:
        users = dict(self._load()[0])
        if users.pop(name, None) is None:
            return False
        self._save(users)
        return True


_DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(bytes(16))}${_b64(bytes(KEY_BYTES))}"
