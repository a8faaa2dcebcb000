"""A power cut while a segment is written, modelled: the open ``.part`` file is copied at
random moments, and the copy is cut to what may have reached the disk (at least the file
as of the last sync, ``recorder.sync_seconds`` before the cut; the rest maybe, maybe cut
mid-fragment, maybe followed by blocks left as zeros), then recovery runs on each copy.
Every recovered file plays (decoded with PyAV) and holds at least every frame written
more than ``recorder.sync_seconds`` + 1 s before the cut."""
from __future__ import annotations

import random
import shutil
import threading
import time
from pathlib import Path

import av

from recorder.segments.recovery import recover
from tests.support.procs import Procs, isolated_env, wait_until
from tests.support.recorder_check import status

CUTS = 20
SYNC_S = 1.0


def decode_all(path: Path) -> tuple[int, int]:
    """(packets, decoded frames); any decoding error fails the test."""
    packets = frames = 0
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        for packet in c.demux(stream):
            if not packet.size:
                continue
            packets += 1
            frames += len(packet.decode())
    return packets, frames


def test_every_cut_recovers_to_a_playing_file_with_what_was_synced(tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "sht", recorder__segment_seconds=8, recorder__align_to_clock=False,
                       recorder__sync_seconds=SYNC_S, ring__slots=32)
    root = Path(env["SHT__RECORDER__ROOT"])
    procs = Procs(env, tmp_path / "logs")
    samples: list[tuple[float, str, int]] = []   # (published_at, current file, frames in it)
    sizes: list[tuple[float, Path, int]] = []     # (time, part file, its size)
    stop = threading.Event()

    def watch() -> None:
        seen = 0.0
        while not stop.is_set():
            st = status(env)
            if st.get("published_at", 0) > seen and st.get("current_file"):
                seen = st["published_at"]
                samples.append((seen, st["current_file"], st["current_frames"]))
            for part in (root / "cam0").glob("*/.*.part"):
                try:
                    sizes.append((time.time(), part, part.stat().st_size))
                except FileNotFoundError:
                    pass
            time.sleep(0.05)

    rng = random.Random(12)
    cuts: list[tuple[float, str, Path]] = []
    try:
        procs.capture(0)
        procs.start("rec0", "-m", "recorder", "--camera", "0")
        wait_until(lambda: status(env).get("state") == "recording", 30)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        for k in range(CUTS):
            time.sleep(rng.uniform(0.2, 1.6))
            parts = sorted((root / "cam0").glob("*/.*.part"))
            if not parts:
                continue
            part = parts[-1]
            dest_root = tmp_path / f"cut{k:02d}"
            dest = dest_root / part.relative_to(root)
            dest.parent.mkdir(parents=True)
            t_cut = time.time()
            try:
                shutil.copyfile(part, dest)    # what the kernel had at the cut
            except FileNotFoundError:
                continue                       # renamed at that instant: try the next moment
            synced = max([n for t, p, n in sizes if p == part and t <= t_cut - SYNC_S], default=0)
            data = dest.read_bytes()
            keep = rng.randint(min(synced, len(data)), len(data)) if k % 4 else len(data)
            dest.write_bytes(data[:keep] + bytes(rng.choice([0, 4096, 65536])))
            cuts.append((t_cut, str(part.relative_to(root)).replace("/.", "/").removesuffix(".part"), dest_root))
        stop.set()
        watcher.join(5)
    finally:
        stop.set()
        procs.close()
    assert len(cuts) >= CUTS - 3

    checked = 0
    for t_cut, final_rel, dest_root in cuts:
        done = recover(dest_root, 0)
        synced = [n for t, f, n in samples if f == final_rel and t <= t_cut - (SYNC_S + 1.0)]
        must_hold = max(synced, default=0)
        files = sorted((dest_root / "cam0").glob("*/*.mp4"))
        if not files:
            assert must_hold == 0, f"cut at {t_cut}: nothing recovered, {must_hold} frames were synced"
            continue
        assert len(files) == 1 and done and done[0]["playable"], done
        packets, decoded = decode_all(files[0])
        assert decoded == packets > 0, f"{files[0]}: {decoded} of {packets} frames decode"
        assert packets >= must_hold, f"{files[0].name}: {packets} frames, {must_hold} were synced"
        checked += 1
    assert checked >= CUTS // 2
