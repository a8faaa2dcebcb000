"""The Picamera2 calls the project makes, checked against the real library's source.

The real package cannot be imported here (it needs libcamera), so its source
distributions are fetched from PyPI once into ``.cache/picamera2`` (checked against the
hashes below) and read with ``tarfile`` + ``ast``.  When they cannot be had the test fails;
it never skips.  0.3.38 is the pinned release; 0.3.36 is read too because releases before
0.3.37 fail differently on a missing camera.

Checked: every method the capture source calls exists with the parameter names it passes
and no required parameter left out; the fake used by the tests has the same parameter
names and literal defaults; the stream keys are allowed; the fake raises the exception
types the real code raises on the missing-camera and busy-camera paths; ``FrameRate``
becomes ``FrameDurationLimits`` in microseconds; ``SensorTimestamp`` is CLOCK_MONOTONIC
nanoseconds; ``wait(job, timeout)`` raises ``concurrent.futures.TimeoutError``;
``MappedArray`` takes ``write``; the colour-space names the source uses exist.
(``FrameDuration`` is a libcamera metadata control, in microseconds; picamera2 only
passes it through, so the fake is checked against ``FrameDurationLimits`` for it.)
"""
from __future__ import annotations

import ast
import concurrent.futures
import hashlib
import importlib
import inspect
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.fake_camera import FAKES
from tests.support.procs import REPO

PINNED = "0.3.38"
OLDER = "0.3.36"
CACHE = REPO / ".cache" / "picamera2"
SHA256 = {"0.3.38": "f4122b1d3d45e3068fe2d589b1d54ded94377d26b9444e1a0c67025b717b6108",
          "0.3.36": "3add10c8e5613234f39f271c90b886306e6fa4a64c99196a2451c308bd278d70"}
SOURCES = {"Picamera2": "picamera2/picamera2.py", "CompletedRequest": "picamera2/request.py",
           "MappedArray": "picamera2/request.py", "Job": "picamera2/job.py"}
PICAM = REPO / "capture" / "sources" / "picam.py"
PROJECT_FILES = [PICAM]
# Methods the fake implements and the real library has, beyond the ones the project calls.
FAKE_ALSO = {("Picamera2", "capture_array"), ("Picamera2", "__enter__"), ("Picamera2", "__exit__"),
             ("CompletedRequest", "make_array"), ("CompletedRequest", "make_buffer"),
             ("CompletedRequest", "acquire"), ("Job", "get_result")}


def _archive(version: str = PINNED) -> Path:
    """PyPI's source distribution of ``version``; not being able to get it is a failure, not a skip."""
    path = CACHE / f"picamera2-{version}.tar.gz"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
               f"picamera2=={version}", "-d", str(CACHE)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and path.exists(), \
            f"picamera2 {version} source could not be downloaded ({' '.join(cmd)}): {done.stderr.strip()[-500:]}"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256[version], f"{path} is not PyPI's file"
    return path


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
            if any((isinstance(d, ast.Name) and d.id == "overload") or
                   (isinstance(d, ast.Attribute) and d.attr == "overload") for d in fn.decorator_list):
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


@contextmanager
def _fake(**env: str) -> Iterator[ModuleType]:
    """The fake ``picamera2`` (and its ``libcamera``), imported fresh, with knobs set."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    sys.path.insert(0, str(FAKES))
    for name in ("picamera2", "libcamera"):
        sys.modules.pop(name, None)
    try:
        yield importlib.import_module("picamera2")
    finally:
        sys.path.remove(str(FAKES))
        for name in ("picamera2", "libcamera"):
            sys.modules.pop(name, None)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _fake_methods() -> dict[tuple[str, str], Params]:
    with _fake() as fake:
        pass
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


@pytest.mark.parametrize("version", [PINNED, OLDER])
@pytest.mark.slow
def test_project_calls_match_the_real_signatures(version: str) -> None:
    real = _real_methods(_archive(version))
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
    with _fake() as fake:
        assert tuple(fake._STREAM_KEYS) == tuple(valid)
    tree = ast.parse(PICAM.read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr == "create_video_configuration")
    for kw in call.keywords:
        if kw.arg in ("main", "lores"):
            assert isinstance(kw.value, ast.Dict)
            keys = {ast.literal_eval(k) for k in kw.value.keys}
            assert keys <= set(valid), f"{kw.arg} uses {keys - set(valid)}"


# -- behaviour, read from the real source --------------------------------------------------------
def _function(source: str, cls: str | None, name: str) -> ast.FunctionDef:
    tree = ast.parse(source)
    scope = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls).body if cls else tree.body
    return [n for n in scope if isinstance(n, ast.FunctionDef) and n.name == name][-1]  # after any @overload


def _missing_camera_error(version: str) -> tuple[type, str]:
    """What ``Picamera2(camera_num=N)`` raises in that release when N is not listed."""
    init = _function(_read(_archive(version), SOURCES["Picamera2"]), "Picamera2", "__init__")
    before_try = []
    for stmt in init.body:
        if isinstance(stmt, ast.Try):
            break
        before_try.append(stmt)
    for stmt in before_try:
        text = ast.unparse(stmt)
        if isinstance(stmt, ast.If) and "camera_num >= len(self.global_camera_info())" in ast.unparse(stmt.test):
            raised = stmt.body[0]
            assert isinstance(raised, ast.Raise) and ast.unparse(raised.exc.func) == "RuntimeError"
            message = raised.exc.args[0]
            prefix = message.values[0].value if isinstance(message, ast.JoinedStr) else message.value
            return RuntimeError, prefix
        if "self.global_camera_info()[camera_num]" in text:
            return IndexError, ""  # a bare list index, outside any try
    raise AssertionError(f"picamera2 {version}: no camera-number handling found before the try block")


@pytest.mark.parametrize("version, expected", [(PINNED, RuntimeError), (OLDER, IndexError)])
def test_missing_camera_fails_in_the_fake_as_in_that_release(version: str, expected: type) -> None:
    error, prefix = _missing_camera_error(version)
    assert error is expected
    with _fake(FAKE_PICAMERA2_VERSION=version, FAKE_PICAMERA2_CAMERAS="1") as fake:
        with pytest.raises(Exception) as raised:
            fake.Picamera2(camera_num=1)
    assert type(raised.value) is error and str(raised.value).startswith(prefix)
    # The source recognises both forms (and checks the list first, so neither is usually reached).
    picam = PICAM.read_text()
    handlers = {ast.unparse(h.type) for h in ast.walk(ast.parse(picam)) if isinstance(h, ast.ExceptHandler) and h.type}
    assert "IndexError" in handlers and (not prefix or f'"{prefix.strip()}"' in picam)


def test_busy_camera_fails_in_the_fake_as_in_the_real_one(tmp_path: Path) -> None:
    source = _read(_archive(), SOURCES["Picamera2"])
    init = _function(source, "Picamera2", "__init__")
    guarded = next(n for n in init.body if isinstance(n, ast.Try) and "self._open_camera()" in ast.unparse(n))
    (handler,) = guarded.handlers
    wrap = next(n for n in ast.walk(handler) if isinstance(n, ast.Raise))
    assert ast.unparse(wrap.exc.func) == "RuntimeError" and wrap.cause is not None
    message = wrap.exc.args[0].value
    # acquire() is what fails on a busy camera, and nothing in _open_camera catches it.
    opener = _function(source, "Picamera2", "_open_camera")
    assert any("self.camera.acquire()" in ast.unparse(s) for s in opener.body if not isinstance(s, ast.Try))
    with _fake(FAKE_PICAMERA2_LOCK_DIR=str(tmp_path)) as fake:
        first = fake.Picamera2(0)
        try:
            with pytest.raises(RuntimeError) as raised:
                fake.Picamera2(0)
        finally:
            first.close()
    assert str(raised.value) == message and isinstance(raised.value.__cause__, RuntimeError)


def test_frame_rate_becomes_frame_duration_limits_in_microseconds(tmp_path: Path) -> None:
    source = _read(_archive(), "picamera2/controls.py")
    controls = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "Controls")
    virtual = next(n for n in controls.body if isinstance(n, ast.Assign)
                   and ast.unparse(n.targets[0]) == "_VIRTUAL_FIELDS_MAP_")
    assert ast.unparse(virtual.value).startswith("{'FrameRate': ('FrameDurationLimits', _framerates_to_durations_")
    convert = next(n for n in controls.body if isinstance(n, ast.FunctionDef) and n.name == "_framerates_to_durations_")
    space: dict = {}
    exec(compile(ast.Module([convert], []), "controls.py", "exec"), space)   # a pure function of its argument
    with _fake(FAKE_PICAMERA2_LOCK_DIR=str(tmp_path)) as fake:
        for fps in (30, 25, 15):
            cam = fake.Picamera2(0)
            try:
                cam.configure(cam.create_video_configuration(main={"format": "YUV420", "size": (1280, 720)},
                                                             controls={"FrameRate": fps}))
                assert cam.camera_config["controls"]["FrameDurationLimits"] == space["_framerates_to_durations_"](fps)
            finally:
                cam.close()
    # The source sets FrameRate, and the lens controls of capture.sources.focus (tested with
    # the fake's advertised controls in test_sensor_modes).
    call = next(n for n in ast.walk(ast.parse(PICAM.read_text()))
                if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "create_video_configuration")
    ctrl = next(k.value for k in call.keywords if k.arg == "controls")
    assert isinstance(ctrl, ast.BinOp) and isinstance(ctrl.left, ast.Dict)
    assert [ast.literal_eval(k) for k in ctrl.left.keys] == ["FrameRate"] and ast.unparse(ctrl.right) == "lens"


def test_the_autofocus_names_are_the_ones_picamera2_uses() -> None:
    # picamera2's own autofocus cycle sets AfMode from libcamera.controls.AfModeEnum.
    source = _read(_archive(), SOURCES["Picamera2"])
    assert '"AfMode": controls.AfModeEnum.Auto' in source and "from libcamera import controls" in source
    focus = (REPO / "capture" / "sources" / "focus.py").read_text()
    assert "from libcamera import controls" in focus and "controls.AfModeEnum.Continuous" in focus


def test_metadata_keys_and_units(tmp_path: Path) -> None:
    source = _read(_archive(), SOURCES["Picamera2"])
    # The library itself compares SensorTimestamp (minus ExposureTime in us) with time.monotonic_ns().
    flush = ast.unparse(_function(source, "Picamera2", "wait_for_timestamp_"))
    assert "md['SensorTimestamp'] - 1000 * md['ExposureTime']" in flush
    assert "flush = time.monotonic_ns()" in ast.unparse(_function(source, "Picamera2", "capture_request"))
    picam = ast.parse(PICAM.read_text())
    used = {n.slice.value for n in ast.walk(picam) if isinstance(n, ast.Subscript)
            and ast.unparse(n.value) == "metadata" and isinstance(n.slice, ast.Constant)}
    used |= {n.args[0].value for n in ast.walk(picam) if isinstance(n, ast.Call)
             and ast.unparse(n.func) == "metadata.get" and isinstance(n.args[0], ast.Constant)}
    assert used == {"SensorTimestamp", "FrameDuration"}
    with _fake(FAKE_PICAMERA2_LOCK_DIR=str(tmp_path)) as fake:
        cam = fake.Picamera2(0)
        try:
            cam.configure(cam.create_video_configuration(main={"format": "YUV420", "size": (1280, 720)},
                                                         controls={"FrameRate": 25}))
            cam.start()
            request = cam.capture_request(wait=2.0)
            meta = request.get_metadata()
            request.release()
        finally:
            cam.close()
    assert used <= meta.keys()
    import time
    assert abs(time.monotonic_ns() - meta["SensorTimestamp"]) < 1_000_000_000
    assert meta["FrameDuration"] == 40000   # microseconds, like FrameDurationLimits


def test_wait_for_a_job_times_out_with_futures_timeout_error(tmp_path: Path) -> None:
    picamera2_py = _read(_archive(), SOURCES["Picamera2"])
    job_py = _read(_archive(), SOURCES["Job"])
    assert ast.unparse(_function(picamera2_py, "Picamera2", "wait").body[-1]) == \
        "return job.get_result(timeout=timeout)"
    assert "return job.get_result(timeout=timeout) if wait else job" in \
        ast.unparse(_function(picamera2_py, "Picamera2", "dispatch_functions"))
    assert ast.unparse(_function(job_py, "Job", "get_result").body[-1]) == "return self._future.result(timeout=timeout)"
    assert "self._future = Future()" in ast.unparse(_function(job_py, "Job", "__init__"))
    assert "from concurrent.futures import CancelledError, Future" in job_py
    with _fake(FAKE_PICAMERA2_LOCK_DIR=str(tmp_path), FAKE_PICAMERA2_STALL_AFTER="0") as fake:
        cam = fake.Picamera2(0)
        try:
            cam.configure(cam.create_video_configuration(main={"format": "YUV420", "size": (1280, 720)}))
            cam.start()
            job = cam.capture_request(wait=False)
            assert isinstance(job, fake.Job)
            with pytest.raises(concurrent.futures.TimeoutError):
                cam.wait(job, timeout=0.05)
        finally:
            cam.close()
    picam = ast.parse(PICAM.read_text())
    caught = {ast.unparse(h.type) for h in ast.walk(picam) if isinstance(h, ast.ExceptHandler) and h.type}
    assert "concurrent.futures.TimeoutError" in caught


def test_mapped_arrays_are_only_read() -> None:
    request_py = _read(_archive(), SOURCES["MappedArray"])
    init = ast.unparse(_function(request_py, "MappedArray", "__init__"))
    assert "_MappedBuffer(request, stream, write=write)" in init
    calls = [n for n in ast.walk(ast.parse(PICAM.read_text()))
             if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "_mapped_array"]
    assert calls and all(any(k.arg == "write" and k.value.value is False for k in c.keywords) for c in calls)


def test_sensor_modes_is_a_property_with_the_keys_the_check_prints(tmp_path: Path) -> None:
    source = _read(_archive(), SOURCES["Picamera2"])
    modes = _function(source, "Picamera2", "sensor_modes")
    assert any(ast.unparse(d) == "property" for d in modes.decorator_list)
    text = ast.unparse(modes)
    assert all(f"['{key}']" in text for key in ("size", "fps", "bit_depth"))
    with _fake(FAKE_PICAMERA2_LOCK_DIR=str(tmp_path)) as fake:
        assert isinstance(vars(fake.Picamera2)["sensor_modes"], property)
        cam = fake.Picamera2(0)
        try:
            assert all({"size", "fps", "bit_depth"} <= m.keys() for m in cam.sensor_modes)
        finally:
            cam.close()


def test_colour_space_names_exist_and_the_default_is_limited_rec709() -> None:
    source = _read(_archive(), SOURCES["Picamera2"])
    video = ast.unparse(_function(source, "Picamera2", "create_video_configuration"))
    assert "colour_space = libcamera.ColorSpace.Rec709()" in video      # for 1280x720 without one
    assert "libcamera.ColorSpace.Sycc()" in source                       # the binding has it
    assert 'camera_config["colour_space"] = utils.colour_space_from_libcamera(' in source  # applied, read back
    utils_py = _read(_archive(), "picamera2/utils.py")
    assert "ColorSpace.Range.Full" in utils_py and "colour_space.range" in utils_py
    assert "ycbcrEncoding" in utils_py
    with _fake() as fake:
        import libcamera
        for name in ("Sycc", "Smpte170m", "Rec709"):
            cs = getattr(libcamera.ColorSpace, name)()
            assert {cs.range, cs.ycbcrEncoding} <= set(libcamera.ColorSpace.Range) | set(
                libcamera.ColorSpace.YcbcrEncoding)
        assert libcamera.ColorSpace.Sycc().range == libcamera.ColorSpace.Range.Full
        assert libcamera.ColorSpace.Rec709().range != libcamera.ColorSpace.Range.Full
        assert fake.ColorSpace is libcamera.ColorSpace
