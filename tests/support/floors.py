"""The floor of every runtime requirement: the lowest version ``requirements.txt`` accepts.

``python3 tests/support/floors.py [requirements.txt ...]`` prints one ``name==floor`` line per
requirement of the files named (``requirements.txt`` by default): the constraints with which
``.ci/run`` installs exactly those versions in a venv of its own, the test tools at their
floors too, and runs the unit tests on them, so a floor that is too low fails CI.  A
requirement without a lower bound is an error (exit 2): every floor is declared, and only in
``requirements.txt``.  Standard library only: it runs before any venv exists.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"
# A name, its extras (``moto[server]``: the floor is the package's, pinned without them, as
# pip's constraints want), its specifiers.
_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[A-Za-z0-9._,\s-]*\])?\s*(.*)$")
_LOWER = re.compile(r"^(?:>=|~=|==)\s*([0-9][0-9a-zA-Z.]*?)(?:\.\*)?$")   # >=1.8, ~=1.8, ==0.54.*


class NoFloor(ValueError):
    """A requirement that accepts every version: nothing to install as its minimum."""


def floors(path: Path = REQUIREMENTS) -> dict[str, str]:
    """Requirement name (lower case) -> its lowest accepted version, in file order."""
    found: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise NoFloor(f"{path.name}: cannot read {raw!r}")
        name, specs = match.group(1).lower(), match.group(2).split(";", 1)[0]
        lower = [m.group(1) for s in specs.split(",") if (m := _LOWER.match(s.strip()))]
        if not lower:
            raise NoFloor(f"{path.name}: {name} has no lower bound ({raw.strip()!r}); declare its floor")
        found[name] = lower[0]
    return found


def main(argv: list[str]) -> int:
    pins: dict[str, str] = {}
    try:
        for path in [Path(a) for a in argv] or [REQUIREMENTS]:
            pins.update(floors(path))
    except NoFloor as exc:
        print(f"floors: {exc}", file=sys.stderr)
        return 2
    print("\n".join(f"{name}=={version}" for name, version in pins.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
