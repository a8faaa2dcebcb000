"""Pages dirtied, charged to programs and kinds of file, from perf's tracepoint lines."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support import dirty_pages
from tests.support.dirty_pages import PAGE, DirtyPages, kind_of

WRITER = """
import os, sys
sys.stdin.readline()
with open(sys.argv[1], "wb") as f:
    for i in range(int(sys.argv[2])):
        f.write(bytes([i % 256]) * 4096)
    f.flush()
    os.fsync(f.fileno())
"""


def test_each_dirtied_page_is_charged_to_its_program_and_kind_of_file(tmp_path: Path) -> None:
    root, logs = tmp_path / "rec", tmp_path / "logs"
    (root / "cam0" / "261204").mkdir(parents=True)
    logs.mkdir()
    files = {"segment": root / "cam0" / "261204" / ".cam0_20261204_101500.mp4.part",
             "wal": root / "recordings.sqlite-wal", "events": root / "events.sqlite",
             "log": logs / "recorder0.log", "stray": root / "notes.txt"}
    for path in files.values():
        path.write_bytes(b"x")
    ino = {k: os.stat(p).st_ino for k, p in files.items()}
    ready, done = threading.Event(), threading.Event()
    worker_tid: list[int] = []

    def worker() -> None:   # a second thread of the program: charged to it as well
        worker_tid.append(threading.get_native_id())
        ready.set()
        done.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    ready.wait(10)
    try:
        pages = DirtyPages({"recorder0": os.getpid()}, root, logs)
        pages._note()
    finally:
        done.set()
        t.join()
    me, other = os.getpid(), worker_tid[0]
    device = 254 << 20 | 0
    script = "\n".join([
        f"  {me} bdi 254:0: ino={ino['segment']} index=0",
        f"  {me} bdi 254:0: ino={ino['segment']} index=1",
        f"  {other} bdi 254:0: ino={ino['wal']} index=3",
        f"  {me} bdi 254:0: ino={ino['events']} index=0",
        f"  {me} bdi 254:0: ino={ino['log']} index=9",
        f"  {me} bdi 254:0: ino={device} index=8650753",
        f"  {me} bdi 254:0: ino={ino['stray']} index=0",
        f"  {me} bdi 254:0: ino=1 index=0",              # a file never seen: other
        f"  {me + 999999} bdi 254:0: ino={ino['wal']} index=0",   # another process: not ours
        "a line perf adds that is no event",
    ])
    charged = pages.charge(script)["recorder0"]
    assert charged == {"video": 2 * PAGE, "archive index": PAGE, "events database": PAGE, "logs": PAGE,
                       "filesystem metadata": PAGE, "other": 2 * PAGE}


def test_only_segments_under_a_camera_folder_are_the_video(tmp_path: Path) -> None:
    root, logs = tmp_path / "rec", tmp_path / "logs"
    assert kind_of(f"{root}/cam1/261204/cam1_20261204_101500.mp4", root, logs, False) == "video"
    assert kind_of(f"{root}/export/cam1_20261204.mp4", root, logs, False) == "other"
    assert kind_of(f"{root}/events.sqlite-shm", root, logs, False) == "events database"
    assert kind_of(None, root, logs, True) == "filesystem metadata"


def test_pages_a_program_dirties_on_a_real_filesystem_are_recorded_and_charged_to_it(tmp_path: Path) -> None:
    # The bench's figure end to end: perf records the kernel's tracepoint while a program writes.
    why = dirty_pages.unavailable()
    if why:
        pytest.skip(f"pages cannot be charged to files here: {why}")
    fs = subprocess.run(["stat", "-f", "-c", "%T", str(tmp_path)], capture_output=True, text=True).stdout.strip()
    if fs == "tmpfs":
        pytest.skip("the temporary folder is on tmpfs, whose pages are never written back")
    root, logs = tmp_path / "rec", tmp_path / "logs"
    root.mkdir()
    logs.mkdir()
    target = logs / "writer.log"
    target.touch()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), "40"], stdin=subprocess.PIPE, text=True)
    try:
        pages = DirtyPages({"writer": writer.pid}, root, logs)
        pages.start()
        time.sleep(2.0)   # perf is recording
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.close()
        assert writer.wait(30) == 0
        charged = pages.stop()["writer"]
    finally:
        writer.kill()
    assert charged["logs"] >= 40 * PAGE, charged
