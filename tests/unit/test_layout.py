"""The tree's rules (``python -m tests.layout``) hold, and each rule catches what it is for."""
from __future__ import annotations

from pathlib import Path

import grimp

from tests import layout


def _package(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_tree_keeps_its_rules() -> None:
    found = layout.folders()
    assert {"common.ipc", "streamer.live.mjpeg", "recorder.encode", "doctor"} <= {f.package for f in found}
    assert layout.crowded(found) == []
    assert layout.sibling_internals(grimp.build_graph(*layout.PROGRAMS, cache_dir=None)) == []
    kept, report = layout.contracts()
    assert kept, report


def test_a_crowded_folder_is_named(tmp_path: Path) -> None:
    _package(tmp_path, {"app/__init__.py": "", "app/__main__.py": "",
                        **{f"app/m{i}.py": "x = 1\n" for i in range(layout.MAX_MODULES + 1)}})
    found = layout.folders(tmp_path, ("app",))
    assert found[0].counted == layout.MAX_MODULES + 1      # __init__ and __main__ do not count
    assert layout.crowded(found) == [f"app: {layout.MAX_MODULES + 1} modules (at most {layout.MAX_MODULES})"]
    assert "m0.py" in layout.tree(found)


def test_reaching_into_a_siblings_internals_is_named(tmp_path: Path, monkeypatch) -> None:
    _package(tmp_path, {
        "web/__init__.py": "", "web/app.py": "from web import live\nfrom web.auth.rules import check\n",
        "web/auth/__init__.py": "from web.auth.rules import check\n", "web/auth/rules.py": "def check(): pass\n",
        "web/live/__init__.py": "", "web/live/stream.py": "def f():\n    from web.auth.rules import check\n",
        "web/live/ok.py": "from web.auth import check\nfrom web.live import stream\n",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = layout.sibling_internals(grimp.build_graph("web", cache_dir=None), top="web")
    assert broken == ["web.app imports web.auth.rules (line 2): import it from web.auth",
                      "web.live.stream imports web.auth.rules (line 2): import it from web.auth"]
