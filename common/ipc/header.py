"""What the headers of both ring kinds share: the common prefix and the writer's states.

Every ring segment, frame or packet ring, starts with the same fields at the same offsets:
which layout it is (magic, version, header size), who writes it (pid, restarts, state,
incarnation, heartbeat), what it last committed and the futex word its readers sleep on.
A kind's layout module declares only its own fields, from ``PREFIX_SIZE`` on, and builds
its full table with :func:`header_table`.  Offsets are fixed by each kind's version: moving
a field here changes both layouts, so both versions go up.

A writer is ``starting`` until its first commit, ``running`` after it, and ``gone`` once it
closed (readers notice at once instead of waiting for its heartbeat to go stale).
"""
from __future__ import annotations

import struct

STATE_STARTING = 0
STATE_RUNNING = 1
STATE_GONE = 2
STATE_NAMES = {STATE_STARTING: "starting", STATE_RUNNING: "running", STATE_GONE: "gone"}

# name -> (offset, struct format).  magic and version stay at 0 and 8 in every version, so a
# reader of any version can tell which layout (and version) a segment has.
COMMON_FIELDS: dict[str, tuple[int, str]] = {
    "magic": (0, "8s"),
    "version": (8, "<I"),
    "header_size": (12, "<I"),
    "writer_pid": (16, "<I"),
    "restarts": (20, "<I"),        # writer starts that reclaimed this segment
    "wake": (24, "<I"),            # futex word, bumped after every commit
    # The readers' hot path reads from writer_state to last_index with one unpack, and the
    # packet ring's first own field (reserve) with it: keep these neighbours.
    "writer_state": (28, "<I"),    # STATE_*
    "incarnation": (32, "<Q"),     # random per writer start: readers start over when it changes
    "heartbeat_ns": (40, "<Q"),    # CLOCK_MONOTONIC of the writer's last sign of life
    "last_index": (48, "<q"),      # newest committed frame or packet, -1 before the first
}
PREFIX_SIZE = 56


def _end(at: int, fmt: str) -> int:
    return at + struct.calcsize(fmt)


def header_table(own: dict[str, tuple[int, str]], header_size: int) -> dict[str, tuple[int, str]]:
    """A kind's full header table: the common prefix, then ``own`` (its fields after it).

    Raises ValueError for an own field that redeclares or overlaps the prefix, overlaps
    another field, or ends past ``header_size``.
    """
    table = dict(COMMON_FIELDS)
    taken = [(at, _end(at, fmt), name) for name, (at, fmt) in COMMON_FIELDS.items()]
    for name, (at, fmt) in own.items():
        end = _end(at, fmt)
        if name in table:
            raise ValueError(f"header field {name!r} is declared in the common prefix")
        if at < PREFIX_SIZE or end > header_size:
            raise ValueError(f"header field {name!r} at {at}..{end} lies outside {PREFIX_SIZE}..{header_size}")
        clash = [other for lo, hi, other in taken if at < hi and lo < end]
        if clash:
            raise ValueError(f"header field {name!r} at {at}..{end} overlaps {clash[0]!r}")
        table[name] = (at, fmt)
        taken.append((at, end, name))
    return table


def run_struct(table: dict[str, tuple[int, str]], *names: str) -> tuple[int, struct.Struct]:
    """Where the neighbouring fields ``names`` start, and one struct that reads them in order.

    Raises ValueError unless each field starts where the one before it ends, so a change
    of the table cannot leave a reader's combined unpack reading the wrong bytes.
    """
    start = end = table[names[0]][0]
    codes = []
    for name in names:
        at, fmt = table[name]
        if at != end:
            raise ValueError(f"header field {name!r} is at {at}, not right after the one before it ({end})")
        codes.append(fmt.lstrip("<"))
        end = _end(at, fmt)
    return start, struct.Struct("<" + "".join(codes))
