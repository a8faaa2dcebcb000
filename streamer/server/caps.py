"""How many connections a worker holds, and from whom: the caps a new connection meets.

* At most ``total`` open connections; past it a new one is answered 503 and dropped, so the
  file descriptors they use stay bounded.
* At most ``per_address`` from one address (429 past it), never more than a quarter of the
  total, so one client cannot hold every connection and lock the others out.  Trusted
  reverse proxies carry many clients and are not capped this way.
* The last ``reserve`` of the total are kept for this machine and the admins.  A
  connection from elsewhere that gets one is *provisional*: the access check answers its
  requests 503 unless an admin makes them (the owner can still log in and look while
  someone holds every other connection).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from streamer.errors import error_body

RESERVE_SHARE = 8      # an eighth of the total is kept in reserve ...
RESERVE_MIN = 2        # ... and at least this many
ADDRESS_SHARE = 4      # one address holds at most a quarter of the total
RETRY_AFTER_S = 2
# Written before any header is read: in English, with the code beside it.
BUSY = error_body("server_busy", retry_after_s=RETRY_AFTER_S)
ADDRESS_BUSY = error_body("address_busy", retry_after_s=RETRY_AFTER_S, setting="security.max_connections_per_address")


class Verdict(Enum):
    OPEN = "open"
    PROVISIONAL = "provisional"     # in the reserve: only for an admin's requests
    BUSY = "busy"                   # over the total: 503
    ADDRESS_BUSY = "address busy"   # over the address's share: 429


def nobody(_: str) -> bool:
    return False


def raw_refusal(status: str, body: dict[str, object]) -> bytes:
    """A whole HTTP answer, written before the protocol has parsed anything."""
    data = json.dumps(body).encode()
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: {RETRY_AFTER_S}\r\n"
            f"connection: close\r\ncontent-length: {len(data)}\r\n\r\n").encode() + data


REFUSALS = {Verdict.BUSY: raw_refusal("503 Service Unavailable", BUSY),
            Verdict.ADDRESS_BUSY: raw_refusal("429 Too Many Requests", ADDRESS_BUSY)}


@dataclass
class ConnectionCaps:
    total: int = 0                       # 0: no caps at all
    per_address: int = 0
    local: Callable[[str], bool] = nobody    # this machine: may use the reserve
    exempt: Callable[[str], bool] = nobody   # a trusted proxy: no per-address cap
    held: dict[str, int] = field(default_factory=dict)   # open connections by address (none at 0)

    def __post_init__(self) -> None:
        if self.total:
            self.per_address = min(self.per_address or self.total, max(1, self.total // ADDRESS_SHARE))

    @property
    def reserve(self) -> int:
        return max(RESERVE_MIN, self.total // RESERVE_SHARE) if self.total else 0

    def admit(self, address: str, open_now: int) -> Verdict:
        """The verdict on a new connection from ``address`` with ``open_now`` others open;
        one that is not refused counts until :meth:`release`."""
        if not self.total:
            return Verdict.OPEN
        if open_now >= self.total:
            return Verdict.BUSY
        held = self.held.get(address, 0)
        if held >= self.per_address and not self.exempt(address):
            return Verdict.ADDRESS_BUSY
        self.held[address] = held + 1
        if open_now >= self.total - self.reserve and not self.local(address):
            return Verdict.PROVISIONAL
        return Verdict.OPEN

    def release(self, address: str) -> None:
        held = self.held.get(address, 0) - 1
        if held > 0:
            self.held[address] = held
        else:
            self.held.pop(address, None)
