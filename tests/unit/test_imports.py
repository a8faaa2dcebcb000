"""No import cycles among the project's modules, and every module imports on its own.

Edges are the imports a module runs when it is imported: statements at module level
(also inside a module-level ``if``/``try``), but not ``if TYPE_CHECKING:`` blocks nor
imports inside functions (those run later, when the module is complete).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import REPO, isolated_env

PACKAGES = ("capture", "common", "doctor", "motion", "recorder", "streamer")


def project_modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` file of the packages (``__init__`` as the package)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                found += _module_level_imports(node.body)
            found += _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                found += _module_level_imports(block)
        elif isinstance(node, ast.With):
            found += _module_level_imports(node.body)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules its module-level imports load (parent packages included).

    A module's own enclosing packages are loaded before it runs, so importing a sibling does
    not load them again: they are edges only when imported by name (a package whose
    ``__init__`` imports its modules is no cycle, a module importing names from that
    ``__init__`` is one).
    """
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        pieces = name.split(".")
        enclosing = {".".join(pieces[:i]) for i in range(1, len(pieces))}

        def with_parents(target: str, enclosing: set[str] = enclosing) -> set[str]:
            parts = target.split(".")
            implied = {".".join(parts[:i]) for i in range(1, len(parts))} - enclosing
            return (implied | {target}) & modules.keys()

        targets: set[str] = set()
        for node in _module_level_imports(ast.parse(path.read_text(), str(path)).body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    targets |= with_parents(alias.name)
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from package import module`` loads that module; the package's own names come
            # from its ``__init__``.
            submodules = {f"{base}.{a.name}" for a in node.names} & modules.keys()
            targets |= submodules
            only_modules = len(submodules) == len(node.names)
            targets |= with_parents(base) - ({base} if only_modules and base in enclosing else set())
        graph[name] = targets - {name} if path.name == "__init__.py" else targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module, and modules importing themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph.get(v, ()):
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_among_the_project_modules() -> None:
    graph = import_graph(project_modules(REPO))
    assert len(graph) > 40 and "capture.sources.registry" in graph
    assert cycles(graph) == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles(graph))


def test_the_capture_interface_is_a_leaf() -> None:
    graph = import_graph(project_modules(REPO))
    assert not any(m.startswith("capture") for m in graph["capture.sources.base"])
    sources = {"capture.sources.synthetic", "capture.sources.picam", "capture.sources.av_source"}
    assert sources <= graph["capture.sources.registry"]


def test_the_detector_finds_a_cycle_and_ignores_function_level_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import thing\n")
    (pkg / "b.py").write_text("try:\n    from pkg import c\nexcept ImportError:\n    pass\nthing = 1\n")
    (pkg / "c.py").write_text("from . import a\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.e\n"
                              "def later():\n    import pkg.e\n")
    (pkg / "e.py").write_text("import pkg.d\n")
    # A package whose __init__ names what its modules offer: no cycle, unless a module takes
    # a name from that __init__.
    sub = pkg / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text("from pkg.sub.f import F\nfrom pkg.sub.h import H\n")
    (sub / "f.py").write_text("from pkg.sub import g\nF = 1\n")
    (sub / "g.py").write_text("")
    (sub / "h.py").write_text("from pkg.sub import F\nH = F\n")
    graph = import_graph(project_modules(tmp_path, ("pkg",)))
    assert graph["pkg.b"] == {"pkg.c"} and graph["pkg.c"] == {"pkg.a"}
    assert graph["pkg.d"] == set()          # type-only and function-level imports are not edges
    assert graph["pkg.sub.f"] == {"pkg.sub.g"} and graph["pkg.sub.h"] == {"pkg.sub"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.sub", "pkg.sub.h"]]


@pytest.mark.slow
def test_every_module_imports_on_its_own(tmp_path: Path) -> None:
    """The project's modules are unloaded before each, so none leans on another imported first."""
    env = isolated_env(tmp_path / "sht")
    code = ("import importlib, sys\n"
            "for name in sys.argv[1:]:\n"
            f"    for loaded in [m for m in sys.modules if m.split('.')[0] in {PACKAGES!r}]:\n"
            "        del sys.modules[loaded]\n"
            "    importlib.import_module(name)\n")
    names = sorted(project_modules(REPO))
    proc = subprocess.run([sys.executable, "-c", code, *names], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
