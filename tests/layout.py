"""``python -m tests.layout``: the package tree with line counts, and the rules that keep it readable.

It prints every program's folders and modules with their line counts, then checks:

* no folder holds more than ``MAX_MODULES`` modules (``__init__`` and ``__main__`` not counted);
* no sub-package of the streamer imports a sibling's internals: ``streamer.live.mjpeg.stream``
  may import ``streamer.auth`` (the package's public surface, its ``__init__``), never
  ``streamer.auth.access``; the modules at the streamer's top (``app``, ``__main__``, ...) assemble
  the sub-packages through those surfaces too;
* the import-linter contracts in ``pyproject.toml`` (layers of the programs and of their
  sub-packages): every import counts, also one inside a function.

Exit 0 when every rule holds, 1 otherwise (each broken rule is named).
"""
from __future__ import annotations

import io
import sys
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parent.parent
PROGRAMS = ("common", "capture", "recorder", "motion", "offsite", "streamer", "doctor")
MAX_MODULES = 12
SURFACED = "streamer"       # the program whose sub-packages meet only through their surfaces


@dataclass(frozen=True)
class Folder:
    package: str
    modules: dict[str, int]     # module file name -> lines

    @property
    def counted(self) -> int:
        return sum(1 for name in self.modules if name not in ("__init__.py", "__main__.py"))


def folders(root: Path = REPO, programs: tuple[str, ...] = PROGRAMS) -> list[Folder]:
    found = []
    for program in programs:
        for init in sorted((root / program).rglob("__init__.py")):
            folder = init.parent
            modules = {p.name: len(p.read_text().splitlines()) for p in sorted(folder.glob("*.py"))}
            found.append(Folder(".".join(folder.relative_to(root).parts), modules))
    return found


def tree(found: list[Folder]) -> str:
    lines = []
    for folder in found:
        depth = folder.package.count(".")
        total = sum(folder.modules.values())
        lines.append(f"{'  ' * depth}{folder.package.rpartition('.')[2]}/  {total} lines, "
                     f"{folder.counted} modules")
        for name, count in folder.modules.items():
            if count or name != "__init__.py":
                lines.append(f"{'  ' * (depth + 1)}{name:<28} {count:>5}")
    return "\n".join(lines)


def crowded(found: list[Folder], limit: int = MAX_MODULES) -> list[str]:
    return [f"{f.package}: {f.counted} modules (at most {limit})" for f in found if f.counted > limit]


def _subpackage(module: str, packages: set[str]) -> str | None:
    """``streamer.live`` for ``streamer.live.mjpeg.stream``; None for a module at the top (``streamer.app``)."""
    head = ".".join(module.split(".")[:2])
    return head if head in packages else None


def sibling_internals(graph: grimp.ImportGraph, top: str = SURFACED) -> list[str]:
    """Imports that reach into another sub-package of ``top`` past its ``__init__``."""
    modules = {m for m in graph.modules if m == top or m.startswith(top + ".")}
    packages = {m for m in modules if m.count(".") == 1 and graph.find_children(m)}
    broken = []
    for importer in sorted(modules):
        own = _subpackage(importer, packages)
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if not imported.startswith(top + "."):
                continue
            theirs = _subpackage(imported, packages)
            if theirs is None or theirs == own or imported == theirs:
                continue
            lines = graph.get_import_details(importer=importer, imported=imported)
            where = f" (line {lines[0]['line_number']})" if lines else ""
            broken.append(f"{importer} imports {imported}{where}: import it from {theirs}")
    return broken


def contracts() -> tuple[bool, str]:
    """The import-linter contracts of pyproject.toml: (kept, report)."""
    from importlinter.application import use_cases
    from importlinter.configuration import configure

    configure()
    out = io.StringIO()
    with redirect_stdout(out):
        ok = use_cases.lint_imports(config_filename=str(REPO / "pyproject.toml"), no_logo=True,
                                    cache_dir=None)
    return ok, out.getvalue()


def main() -> int:
    sys.path.insert(0, str(REPO))
    found = folders()
    print(tree(found))
    print()
    problems = crowded(found)
    graph = grimp.build_graph(*PROGRAMS, cache_dir=None)
    problems += sibling_internals(graph)
    kept, report = contracts()
    print(report.strip())
    if not kept:
        problems.append("an import-linter contract is broken (see above)")
    for line in problems:
        print(f"BROKEN: {line}")
    print("layout: OK" if not problems else f"layout: {len(problems)} rule(s) broken")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
