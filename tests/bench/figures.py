"""A measured figure, and the helpers every benchmark section uses to make one."""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    section: str                 # "ring", "capture", "streamer", "recorder", "tree", "peer"
    name: str                    # e.g. "publish hd", "wake-up p99"
    median: float
    spread: float                # (max - min) / 2 over the repeated runs, same unit
    unit: str                    # "ms", "%core", "MB", "fps", "x", ...
    runs: int = 1
    target: str = ""             # e.g. "<= 2 ms"; empty when the figure has no target
    passed: bool | None = None   # None when there is no target
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(section: str, name: str, values: list[float], unit: str, target: str = "",
              check=None, note: str = "") -> Figure:
    """Median and spread of repeated measurements; ``check(median) -> bool`` for a target."""
    med = statistics.median(values) if values else float("nan")
    spread = (max(values) - min(values)) / 2 if values else float("nan")
    passed = bool(check(med)) if check is not None and values else None
    return Figure(section, name, med, spread, unit, len(values), target, passed, note)


class SectionSkipped(Exception):
    """A section that cannot measure on this machine (e.g. footage that is not here) raises this
    with what is missing and how to bring it; the report lists it as skipped, with that message."""
