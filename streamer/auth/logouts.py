"""Sessions ended before their time by logging out, remembered by every worker until they expire.

A signed session cookie is valid by itself until its expiry, so logging out must end it on
the server too, or a copy saved before (a shared computer, a stolen cookie) would go on
working.  Ended sessions live in ``<run dir>/sessions-ended.json`` (0600: like the cookies
they must outlive a restart and a reboot; written only when someone logs out), changed
under a lock and replaced atomically; each worker reads it again when it changes, which
costs one ``stat`` per request that carries a cookie.

Bounded: an entry goes once its session would have expired, and a user keeps at most
MAX_PER_USER.  Past that, the entry expiring first gives way to a cut-off for its user:
every session of that user expiring no later than it ends too (more is logged out, never
less).  Users who no longer exist lose their entries (their cookies fail anyway).
"""
from __future__ import annotations

import os
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from common.state.jsonfile import FileLock, make_private_dir, read_json, write_json_atomic
from streamer.auth.sessions import Token

ENDED_FILE = "sessions-ended.json"
MAX_PER_USER = 64


class Logouts:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / ENDED_FILE
        self._lock = FileLock(self.run_dir / (ENDED_FILE + ".lock"))
        self._key: tuple[int, int, int] | None = None
        self._ended: dict[str, dict[str, int]] = {}
        self._cut: dict[str, int] = {}

    def ended(self, token: Token) -> bool:
        """True when the session was logged out (or cut off with older ones of its user)."""
        self._refresh()
        return token.id in self._ended.get(token.user, {}) or token.expires <= self._cut.get(token.user, 0)

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
            key = (st.st_mtime_ns, st.st_ino, st.st_size)
        except OSError:
            key = (0, 0, 0)
        if key != self._key:
            self._key = key
            self._ended, self._cut = self._parse(read_json(self.path))

    @staticmethod
    def _parse(doc: Any) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
        doc = doc if isinstance(doc, dict) else {}
        ended, cut = doc.get("ended"), doc.get("cut")
        ended = {user: {sid: exp for sid, exp in ids.items() if isinstance(exp, int)}
                 for user, ids in (ended.items() if isinstance(ended, dict) else ()) if isinstance(ids, dict)}
        cut = {user: exp for user, exp in (cut.items() if isinstance(cut, dict) else ()) if isinstance(exp, int)}
        return ended, cut

    def end(self, token: Token, users: Collection[str]) -> None:
        """Remember that ``token``'s session ended; ``users``: the accounts that exist now."""
        now = int(time.time())
        make_private_dir(self.run_dir)
        with self._lock.held():
            ended, cut = self._parse(read_json(self.path))
            ended = {user: {sid: exp for sid, exp in ids.items() if exp >= now}
                     for user, ids in ended.items() if user in users}
            cut = {user: exp for user, exp in cut.items() if exp >= now and user in users}
            mine = ended.setdefault(token.user, {})
            mine[token.id] = token.expires
            while len(mine) > MAX_PER_USER:
                first = min(mine, key=mine.__getitem__)
                cut[token.user] = max(cut.get(token.user, 0), mine.pop(first))
            write_json_atomic(self.path, {"ended": {u: ids for u, ids in ended.items() if ids}, "cut": cut})
