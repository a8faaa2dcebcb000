"""The benchmark runner and report, with fake sections, and the viewers' stream parser.
Nothing here is timed: figures come from the runner."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.bench import __main__ as bench
from tests.bench.figures import Figure, summarise
from tests.bench.report import FAILED, MISSING, OK, SKIPPED, SectionResult, as_json, markdown, verdict
from tests.bench.viewers import addresses
from tests.support.multipart import Dechunk, Multipart
from tests.support.procs import REPO

FAKES = {
    "fake_ok": """
        from tests.bench.figures import summarise
        def run(quick):
            return [summarise("fake_ok", "cost", [1.0, 3.0, 2.0], "ms", target="<= 2 ms",
                              check=lambda v: v <= 2),
                    summarise("fake_ok", "size", [10.0], "KB", target="<= 5 KB", check=lambda v: v <= 5,
                              note="bigger than wanted"),
                    summarise("fake_ok", "plain", [quick and 1.0 or 2.0], "x"),
                    summarise("fake_ok", "unmeasured", [], "ms", target="<= 1 ms", check=lambda v: v <= 1)]
    """,
    "fake_raise": """
        def run(quick):
            raise RuntimeError("camera | exploded")
    """,
    "fake_broken_import": """
        import a_module_that_is_not_installed_anywhere
        def run(quick):
            return []
    """,
    "fake_hang": """
        import time
        def run(quick):
            try:
                while True:
                    time.sleep(0.05)
            except Exception:
                return []   # must not swallow the runner's time budget
    """,
    "fake_skip": """
        from tests.bench.figures import SectionSkipped
        def run(quick):
            raise SectionSkipped("clip 'hall' is not in .cache/footage; bring it with: ...")
    """,
    "fake_child": """
        import subprocess, sys
        def run(quick):
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            return []
    """,
}


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    for name, source in FAKES.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return [(name, name) for name in FAKES] + [("absent", "fake_module_not_written_yet")]


@pytest.mark.slow
def test_runner_reports_every_kind_of_section(fakes: list[tuple[str, str]]) -> None:
    results, meta = bench.run_all(fakes, quick=True, budget_s=1.0)
    by = {r.name: r for r in results}
    assert [r.name for r in results] == [name for name, _ in fakes]
    assert by["fake_ok"].status == OK and len(by["fake_ok"].figures) == 4
    assert by["fake_raise"].status == FAILED and "camera | exploded" in by["fake_raise"].error
    # A section whose own import fails is broken, not "not yet written".
    assert by["fake_broken_import"].status == FAILED
    assert "a_module_that_is_not_installed_anywhere" in by["fake_broken_import"].error
    assert by["fake_hang"].status == FAILED and "time budget" in by["fake_hang"].error
    assert by["absent"].status == MISSING
    assert by["fake_child"].status == OK and any("left process" in w for w in by["fake_child"].warnings)
    # A section that cannot measure here says why, and fails nothing.
    assert by["fake_skip"].status == SKIPPED and "bring it with" in by["fake_skip"].error
    text = markdown(results, meta)
    assert "| fake_skip | skipped: clip 'hall' is not in .cache/footage; bring it with: ... |" in text
    assert "- Sections skipped: fake_skip (clip 'hall' is not in .cache/footage; bring it with: ...)." in text
    assert bench.exit_code([by["fake_ok"], by["fake_skip"]], strict=False) == 0
    assert bench.exit_code([by["fake_skip"]], strict=True) == 1
    assert meta["quick"] is True and meta["machine"]["cores"] >= 1
    assert bench.exit_code(results, strict=False) == 1  # sections failed


def test_verdicts_and_markdown(fakes: list[tuple[str, str]]) -> None:
    results, meta = bench.run_all(fakes[:2], quick=False, budget_s=5.0)
    cost, size, plain, unmeasured = results[0].figures
    assert (cost.median, cost.spread, cost.runs) == (2.0, 1.0, 3)
    assert [verdict(f) for f in (cost, size, plain, unmeasured)] == ["PASS", "FAIL", "", "NOT MEASURED"]
    assert plain.median == 2.0  # the section saw quick=False
    text = markdown(results, meta)
    assert "| fake_ok | cost | 2.000 | 1.00 | ms | 3 | <= 2 ms | PASS |" in text
    assert "| fake_ok | size | 10.00 | 0 | KB | 1 | <= 5 KB | FAIL |" in text
    assert "1 passed, 1 failed, 1 not measured." in text
    assert "- FAIL: fake_ok / size = 10.00 KB (target <= 5 KB): bigger than wanted" in text
    # A '|' in an error must not break the table.
    assert "FAILED: RuntimeError: camera \\| exploded" in text


def test_json_has_every_figure_and_no_nan(fakes: list[tuple[str, str]], tmp_path: Path) -> None:
    results, meta = bench.run_all(fakes[:1], quick=True, budget_s=5.0)
    doc = json.loads(json.dumps(as_json(results, meta), allow_nan=False))
    assert doc["targets"] == {"PASS": 1, "FAIL": 1, "NOT MEASURED": 1}
    assert [f["result"] for f in doc["figures"]] == ["PASS", "FAIL", None, "NOT MEASURED"]
    assert doc["figures"][3]["median"] is None
    assert doc["sections"][0]["status"] == "ok"


def test_exit_codes() -> None:
    ok = SectionResult("a", "m", figures=[summarise("a", "x", [1.0], "ms", "<= 2", lambda v: v <= 2)])
    bad = SectionResult("b", "m", figures=[summarise("b", "y", [3.0], "ms", "<= 2", lambda v: v <= 2)])
    missing = SectionResult("c", "m", status=MISSING)
    assert bench.exit_code([ok, bad, missing], strict=False) == 0
    assert bench.exit_code([ok, bad], strict=True) == 1
    assert bench.exit_code([ok, missing], strict=True) == 1
    assert bench.exit_code([ok], strict=True) == 0


def test_section_selection_and_discovery(tmp_path: Path) -> None:
    for stem in ("ring_bench", "tree_bench", "zoom_bench", "alpha_bench", "helpers"):
        (tmp_path / f"{stem}.py").write_text("")
    found = bench.discover(tmp_path)
    # Known sections keep their order; others found are added before the whole tree.
    assert [n for n, _ in found] == ["ring", "capture", "streamer", "slow_viewer", "recorder",
                                     "recorder_under_load", "peer", "alpha", "zoom", "tree"]
    assert dict(found)["zoom"] == "tests.bench.zoom_bench"
    assert [n for n, _ in bench.select("tree, slow-viewer,ring", found)] == ["ring", "slow_viewer", "tree"]
    with pytest.raises(ValueError, match="allowed values are ring, capture"):
        bench.select("ring,gpu", found)


def test_command_line_refuses_an_unknown_section() -> None:
    proc = subprocess.run([sys.executable, "-m", "tests.bench", "--only", "gpu"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--only gpu: allowed values are" in proc.stderr


def test_command_line_writes_report_and_json(fakes: list[tuple[str, str]], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(bench, "discover", lambda: [("fake_ok", "fake_ok"),
                                                    ("absent", "fake_module_not_written_yet")])
    out = tmp_path / "r" / "bench.json"
    assert bench.main(["--quick", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Benchmark report") and "| absent | not available |" in text
    doc = json.loads(out.read_text())
    assert doc["meta"]["quick"] is True and len(doc["figures"]) == 4
    assert bench.main(["--quick", "--strict"]) == 1


def test_numbers_keep_their_significant_digits() -> None:
    from tests.bench.report import number
    assert [number(v) for v in (2.997, 87.94, 0.0793, 0.99973, 1234.4, 0.0, float("nan"))] == \
        ["3.00", "87.9", "0.0793", "1.000", "1234", "0", "n/a"]
    assert number(2.997, 4) == "2.997"


def test_spread_and_missing_values() -> None:
    fig = summarise("s", "n", [4.0, 1.0, 9.0, 2.0], "ms")
    assert fig.median == 3.0 and fig.spread == 4.0 and fig.runs == 4 and fig.passed is None
    empty = summarise("s", "n", [], "ms", "<= 1", lambda v: v <= 1)
    assert math.isnan(empty.median) and verdict(empty) == "NOT MEASURED"
    assert verdict(Figure("s", "n", 1.0, 0.0, "ms")) == ""


# -- the viewers' stream parser ----------------------------------------------------------
def _multipart(parts: list[bytes], sized: bool = True) -> bytes:
    out = b""
    for body in parts:
        length = f"Content-Length: {len(body)}\r\n" if sized else ""
        out += f"--frame\r\nContent-Type: image/jpeg\r\n{length}X-Timestamp: 1.5\r\n\r\n".encode() + body + b"\r\n"
    return out


def _chunked(data: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


@pytest.mark.parametrize("sized", [True, False])
@pytest.mark.parametrize("step", [1, 7, 1000])
def test_multipart_parser_counts_parts_split_anywhere(sized: bool, step: int) -> None:
    bodies = [bytes([i % 251]) * (100 + 37 * i) for i in range(6)]
    bodies[2] = b"--fram" + bodies[2]  # a body that starts like a boundary
    stream = _chunked(_multipart(bodies, sized), 53)
    dechunk, mp = Dechunk(), Multipart(b"frame")
    done = 0
    for i in range(0, len(stream), step):
        done += mp.feed(dechunk.feed(stream[i:i + step]))
        if dechunk.finished:
            break
    assert dechunk.finished and len(stream) - (i + step) <= 2  # only the closing CRLF unread
    # Without lengths, a part is known to be complete only when the next one starts.
    expected = len(bodies) if sized else len(bodies) - 1
    assert mp.parts == done == expected
    complete = sum(len(b) for b in bodies[:expected])
    if sized:
        assert mp.payload_bytes == complete
    else:  # bytes of the part still open count as they arrive
        assert complete <= mp.payload_bytes <= sum(len(b) for b in bodies)
    assert mp.last_headers["x-timestamp"] == "1.5"


def test_viewer_addresses_spread_over_distinct_loopbacks() -> None:
    assert addresses(4, 2) == ["127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3"]
    assert addresses(1, 2) == ["127.0.0.2"]


def test_cpu_clock_counts_a_child_process_and_its_ended_threads() -> None:
    import psutil

    from tests.bench.rig import CpuClock
    from tests.support.procs import wait_until

    burn = ("import threading, time\n"
            "def spin(s):\n"
            "    t = time.thread_time()\n"
            "    while time.thread_time() - t < s: pass\n"
            "input()\n"
            "th = threading.Thread(target=spin, args=(0.3,)); th.start(); th.join()\n"
            "spin(0.3)\n"
            "print('done', flush=True)\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: psutil.Process(proc.pid).num_threads() >= 1, 10)
        clock = CpuClock(proc.pid)
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
        cpu, wall = clock.elapsed()
        # 0.6 s of spinning, one thread of which ended before the reading.
        assert 0.55 <= cpu <= 0.8 and wall >= cpu - 0.05
    finally:
        proc.kill()
        proc.wait()


def _serve_once(response: bytes, then_hold_s: float = 0.0) -> tuple[int, threading.Thread]:
    """A one-connection server on 127.0.0.1 that sends ``response`` and closes."""

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(4096)
            try:
                conn.sendall(response)
            except OSError:
                pass
            time.sleep(then_hold_s)
        srv.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return srv.getsockname()[1], thread


def test_viewer_counts_parts_and_notices_the_end_of_the_stream() -> None:
    from tests.bench.viewers import Viewer

    body = _chunked(_multipart([b"a" * 5000, b"b" * 7000, b"c" * 100]), 4096)
    port, server = _serve_once(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n" + body)
    viewer = Viewer("127.0.0.1", port, "/stream", "127.0.0.2")
    viewer.start()
    viewer.join(10)
    server.join(10)
    assert viewer.status == 200 and viewer.counts().parts == 3
    assert viewer.counts().payload_bytes == 12100
    assert viewer.error == "the server ended the stream"


def test_viewer_reports_a_refusal() -> None:
    from tests.bench.viewers import Viewer

    port, _server = _serve_once(b"HTTP/1.1 423 Locked\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    viewer = Viewer("127.0.0.1", port, "/stream", "127.0.0.3")
    viewer.start()
    viewer.join(10)
    assert viewer.status == 423 and viewer.error == "HTTP 423" and viewer.counts().parts == 0


@pytest.mark.slow
def test_slow_viewer_consumes_one_part_per_period() -> None:
    import time

    from tests.bench.viewers import Viewer

    parts = _multipart([bytes([i % 256]) * 20000 for i in range(200)])
    port, _server = _serve_once(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n"
                               + parts, then_hold_s=5)
    viewer = Viewer("127.0.0.1", port, "/stream", "127.0.0.2", period_s=0.2)
    viewer.start()
    try:
        viewer.ready.wait(10)
        time.sleep(1.0)
        # 4 MB are waiting; reading one part per 200 ms takes only a handful of them in a second.
        assert 1 <= viewer.counts().parts <= 8
    finally:
        viewer.stop()
        viewer.join(5)


def test_every_bench_section_imports_and_has_a_run() -> None:
    import importlib
    import inspect

    from tests.bench.__main__ import discover

    for name, module in discover():
        mod = importlib.import_module(module)
        assert callable(getattr(mod, "run", None)), f"bench section {name} has no run()"
        assert list(inspect.signature(mod.run).parameters)[:1] == ["quick"], name


def test_a_section_with_a_longer_budget_gets_it_in_the_full_run_only(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[tuple[str, bool, float]] = []

    def record(name: str, module: str, quick: bool, budget_s: float) -> SectionResult:
        given.append((name, quick, budget_s))
        return SectionResult(name, module)

    monkeypatch.setattr(bench, "run_section", record)
    sections = [("streamer", "tests.bench.streamer_bench"), ("ring", "tests.bench.ring_bench")]
    bench.run_all(sections, quick=False)
    bench.run_all(sections, quick=True)
    bench.run_all(sections, quick=False, budget_s=7.0)
    assert given == [("streamer", False, bench.LONGER_S["streamer"]), ("ring", False, bench.BUDGET_S[False]),
                     ("streamer", True, bench.BUDGET_S[True]), ("ring", True, bench.BUDGET_S[True]),
                     ("streamer", False, 7.0), ("ring", False, 7.0)]
    assert bench.LONGER_S["streamer"] > bench.BUDGET_S[False]
