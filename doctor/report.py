"""The self-check's report: labelled lines as they are found, the problems among them, and
the closing RESULT line that gives the exit code."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Report:
    """The lines to print, and the problems that make the exit code 1."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    out: Callable[[str], None] = print

    def title(self) -> None:
        self.out(f"SHT Dual LIVE Camera self-check, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")

    def add(self, label: str, text: str) -> None:
        line = f"{label}: {text}"
        self.lines.append(line)
        self.out(line)

    def problem(self, label: str, text: str) -> None:
        self.problems.append(f"{label}: {text}")
        self.add(label, f"PROBLEM: {text}")

    def result(self) -> int:
        """Print the RESULT line; the exit code: 0 when everything needed works, 1 otherwise."""
        if self.problems:
            self.out(f"RESULT: {len(self.problems)} problem(s): " + " | ".join(self.problems))
            return 1
        self.out("RESULT: OK, everything needed works")
        return 0
