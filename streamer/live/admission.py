"""Who may open a live stream, of either kind: one gate, one viewer table, one kind of refusal.

A stream counts against its pool and against its address:

* ``480p`` and ``720p`` (MJPEG): ``streamer.max_clients_per_resolution`` distinct addresses each;
* ``h264`` (the low-data view): ``streamer.max_h264_clients`` distinct addresses;
* every address: ``security.max_streams_per_address`` streams of both kinds together.

The address is the access layer's (:func:`streamer.auth.identity`): the forwarded-for
address a trusted proxy names (``security.trusted_proxies``), else the socket's peer.  A
full pool answers 423, a full address 429, both with ``Retry-After`` and a JSON body
naming the setting.  :class:`Viewers` also keeps this worker's open sessions and their rows.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from common.config import Config
from streamer.auth import identity
from streamer.errors import error_response
from streamer.language import language_of
from streamer.live.h264.stream import POOL as H264_POOL
from streamer.live.session import ViewerSession
from streamer.live.viewers import Admission, ViewerTable
from streamer.params import RESOLUTIONS

RETRY_AFTER_S = 2
PER_ADDRESS_SETTING = "security.max_streams_per_address"
log = logging.getLogger("streamer")
S = TypeVar("S", bound=ViewerSession)


@dataclass(frozen=True)
class Pool:
    limit: int       # distinct addresses
    setting: str     # the configuration key that sets it


def pools(cfg: Config) -> dict[str, Pool]:
    per_res = Pool(cfg.streamer.max_clients_per_resolution, "streamer.max_clients_per_resolution")
    return {**dict.fromkeys(RESOLUTIONS, per_res),
            H264_POOL: Pool(cfg.streamer.max_h264_clients, "streamer.max_h264_clients")}


def shared_table(cfg: Config) -> ViewerTable:
    """The viewer table all workers of this installation share."""
    return ViewerTable.for_config(cfg.ring.prefix, cfg.run_dir, {name: p.limit for name, p in pools(cfg).items()},
                                  cfg.security.max_streams_per_address)


def refusal(admission: Admission, pool: Pool, lang: str) -> JSONResponse:
    """The 423 (pool full) or 429 (address full) answer to a refused stream."""
    body: dict[str, Any]
    if admission.per_address:
        status, code, body = 429, "address_streams", {"setting": PER_ADDRESS_SETTING, "streams": admission.streams}
    else:
        status, code, body = 423, "viewer_limit", {"setting": pool.setting}
    body.update(reason=admission.reason, res=admission.pool, limit=admission.limit, holders=admission.holders,
                retry_after_s=RETRY_AFTER_S)
    return error_response(status, code, lang, {"Retry-After": str(RETRY_AFTER_S)}, **body)


class Viewers:
    """This worker's open live streams, of both kinds, and the gate to open one."""

    def __init__(self, cfg: Config) -> None:
        self.pools = pools(cfg)
        self.table = shared_table(cfg)
        self.open: dict[str, ViewerSession] = {}

    def __len__(self) -> int:
        return len(self.open)

    def admit(self, request: Request, make: Callable[[str], S]) -> S | JSONResponse:
        """A session (``make`` given the client's address) holding its slot, or the refusal."""
        session = make(identity(request).address)
        admission = self.table.admit(session.row())
        if not admission.ok:
            return refusal(admission, self.pools[admission.pool], language_of(request.headers))
        self.open[session.conn] = session
        return session

    def end(self, session: ViewerSession) -> None:
        """A stream ended, however: its slot goes at once."""
        self.open.pop(session.conn, None)
        try:
            self.table.remove(session.conn)
        except OSError as exc:
            log.warning("viewer table: %s", exc)

    def rows(self) -> list[dict[str, Any]]:
        return [v.row() for v in self.open.values()]

    def sync(self, views: list[dict[str, Any]]) -> None:
        """Refresh this worker's rows and view statistics in the shared table."""
        try:
            self.table.sync(self.rows(), views)
        except OSError as exc:
            log.warning("viewer table: %s", exc)

    def close(self) -> None:
        try:
            self.table.leave()
        except OSError:
            pass
