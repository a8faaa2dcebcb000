"""The Picamera2 calls the project makes, checked against the real library's source.

The real package cannot be imported here (it needs libcamera), so its wheel is fetched
once with ``pip download`` into ``~/.cache/sht`` and read with ``zipfile`` + ``ast``.
Checked: every method the capture source calls exists with the parameter names it
passes and no required parameter left out; the fake used by the tests has the same
parameter names and literal defaults; the stream keys the source uses are allowed.
"""
from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.procs import REPO

PINNED = "0.3.38"
CACHE = Path.home() / ".cache" / "sht" / f"picamera2-{PINNED}"
SOURCES = {"Picamera2": "picamera2/picamera2.py", "CompletedRequest": "picamera2/request.py",
           "MappedArray": "picamera2/request.py"}
PROJECT_FILES = [REPO / "capture" / "picam.py"]
# Methods the fake implements and the real library has, beyond the ones the project calls.
FAKE_ALSO = {("Picamera2", "capture_array"), ("Picamera2", "__enter__"), ("Picamera2", "__exit__"),
             ("CompletedRequest", "make_array"), ("CompletedRequest", "make_buffer"),
             ("CompletedRequest", "acquire")}


def _archive() -> Path:
    found = sorted(CACHE.glob("picamera2-*")) if CACHE.exists() else []
    if found:
        return found[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "download", f"picamera2=={PINNED}", "--no-deps",
                               "-d", str(CACHE)], capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"picamera2=={PINNED} could not be downloaded ({exc}); the contract needs its source")
    found = sorted(CACHE.glob("picamera2-*"))
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"picamera2=={PINNED} could not be downloaded (pip download: {last}); "
                    f"the contract needs its source")
    return found[0]


def _read(archive: Path, inner: str) -> str:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            return z.read(inner).decode()
    with tarfile.open(archive) as t:
        member = next(m for m in t.getmembers() if m.name.endswith("/" + inner))
        return t.extractfile(member).read().decode()


class Params:
    """A method's parameters without ``self``: names in order, and which have defaults."""

    def __init__(self, names: list[str], defaults: dict[str, object], varargs: bool) -> None:
        self.names, self.defaults, self.varargs = names, defaults, varargs

    def required(self) -> list[str]:
        return [n for n in self.names if n not in self.defaults]


_NO_LITERAL = object()


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _NO_LITERAL  # e.g. libcamera.Transform(): compared by presence only


def _real_methods(archive: Path) -> dict[tuple[str, str], Params]:
    methods: dict[tuple[str, str], Params] = {}
    for cls, inner in SOURCES.items():
        tree = ast.parse(_read(archive, inner))
        node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
        for fn in node.body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            if any(isinstance(d, ast.Name) and d.id == "overload" or
                   isinstance(d, ast.Attribute) and d.attr == "overload" for d in fn.decorator_list):
                continue  # typing stubs; the implementation follows them
            static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
            args = fn.args.posonlyargs + fn.args.args
            names = [a.arg for a in (args if static else args[1:])]
            pos_defaults = dict(zip([a.arg for a in args][len(args) - len(fn.args.defaults):], fn.args.defaults))
            kw = {a.arg: d for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None}
            names += [a.arg for a in fn.args.kwonlyargs]
            defaults = {n: _literal(d) for n, d in {**pos_defaults, **kw}.items()}
            methods[(cls, fn.name)] = Params(names, defaults, fn.args.vararg is not None or fn.args.kwarg is not None)
    return methods


def _fake_methods() -> dict[tuple[str, str], Params]:
    sys.path.insert(0, str(REPO / "tests" / "fakes"))
    try:
        import importlib
        sys.modules.pop("picamera2", None)
        fake = importlib.import_module("picamera2")
    finally:
        sys.path.pop(0)
        sys.modules.pop("picamera2", None)
    methods = {}
    for cls in SOURCES:
        klass = getattr(fake, cls)
        for name, member in vars(klass).items():
            if not callable(member) and not isinstance(member, staticmethod):
                continue
            func = member.__func__ if isinstance(member, staticmethod) else member
            sig = inspect.signature(func)
            params = list(sig.parameters.values())
            if not isinstance(member, staticmethod):
                params = params[1:]
            names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            defaults = {p.name: p.default if isinstance(p.default, (int, float, str, bool, type(None), dict, list,
                                                                   tuple)) else _NO_LITERAL
                        for p in params if p.default is not p.empty}
            methods[(cls, name)] = Params(names, defaults, any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                                                              for p in params))
    return methods


def _project_calls() -> list[tuple[str, str, int, list[str], str]]:
    """(class, method, positional count, keyword names, where) for every Picamera2 call we make."""
    calls = []
    for path in PROJECT_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func, target = node.func, None
            if isinstance(func, ast.Name) and func.id == "Picamera2":
                target = ("Picamera2", "__init__")
            elif isinstance(func, ast.Attribute):
                owner = ast.unparse(func.value)
                if owner in ("Picamera2", "self._cam", "cam"):
                    target = ("Picamera2", func.attr)
                elif owner in ("request", "self.request"):
                    target = ("CompletedRequest", func.attr)
                elif func.attr == "_mapped_array":
                    target = ("MappedArray", "__init__")
            if target is not None:
                calls.append((*target, len(node.args), [k.arg for k in node.keywords],
                              f"{path.name}:{node.lineno}"))
    return calls


@pytest.fixture(scope="module")
def real() -> dict[tuple[str, str], Params]:
    return _real_methods(_archive())


def test_project_calls_match_the_real_signatures(real) -> None:
    calls = _project_calls()
    used = {(c, m) for c, m, *_ in calls}
    # The calls the capture source depends on are all found (the scan did not miss them).
    assert {("Picamera2", "__init__"), ("Picamera2", "global_camera_info"), ("Picamera2", "create_video_configuration"),
            ("Picamera2", "configure"), ("Picamera2", "start"), ("Picamera2", "stop"), ("Picamera2", "close"),
            ("Picamera2", "capture_request"), ("CompletedRequest", "get_metadata"),
            ("CompletedRequest", "release"), ("MappedArray", "__init__")} <= used
    for cls, method, npos, keywords, where in calls:
        assert (cls, method) in real, f"{where}: {cls}.{method} does not exist in picamera2 {PINNED}"
        params = real[(cls, method)]
        assert npos <= len(params.names) or params.varargs, f"{where}: too many arguments for {cls}.{method}"
        for kw in keywords:
            assert kw in params.names, f"{where}: {cls}.{method} has no parameter {kw!r} ({params.names})"
        given = set(params.names[:npos]) | set(keywords)
        missing = [n for n in params.required() if n not in given]
        assert not missing, f"{where}: {cls}.{method} needs {missing}"
        if method in ("capture_request", "capture_array"):
            assert "wait" in keywords, f"{where}: a capture without wait= blocks for ever when frames stop"


def test_fake_has_the_real_signatures(real) -> None:
    fake = _fake_methods()
    used = {(c, m) for c, m, *_ in _project_calls()} | FAKE_ALSO
    for key in sorted(used):
        assert key in fake, f"the fake lacks {key[0]}.{key[1]}"
        f, r = fake[key], real[key]
        assert f.names == r.names, f"{key[0]}.{key[1]}: fake {f.names} vs picamera2 {r.names}"
        assert f.defaults.keys() == r.defaults.keys(), f"{key[0]}.{key[1]}: defaults differ"
        for name, value in r.defaults.items():
            if value is not _NO_LITERAL:
                assert f.defaults[name] == value, f"{key[0]}.{key[1]}({name}=...): fake {f.defaults[name]!r}, " \
                                                  f"picamera2 {value!r}"


def test_stream_keys_used_are_the_ones_picamera2_accepts() -> None:
    source = _read(_archive(), SOURCES["Picamera2"])
    fn = next(n for n in ast.walk(ast.parse(source))
              if isinstance(n, ast.FunctionDef) and n.name == "_make_initial_stream_config")
    valid = next(ast.literal_eval(n.value) for n in ast.walk(fn)
                 if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "valid")
    sys.path.insert(0, str(REPO / "tests" / "fakes"))
    try:
        sys.modules.pop("picamera2", None)
        import picamera2 as fake
        assert tuple(fake._STREAM_KEYS) == tuple(valid)
    finally:
        sys.path.pop(0)
        sys.modules.pop("picamera2", None)
    tree = ast.parse((REPO / "capture" / "picam.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr == "create_video_configuration")
    for kw in call.keywords:
        if kw.arg in ("main", "lores"):
            assert isinstance(kw.value, ast.Dict)
            keys = {ast.literal_eval(k) for k in kw.value.keys}
            assert keys <= set(valid), f"{kw.arg} uses {keys - set(valid)}"
