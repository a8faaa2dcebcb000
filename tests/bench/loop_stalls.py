"""How long the recording loop keeps its ring waiting: around segment boundaries and elsewhere.

One recorder runs in this process, fed by a capture process on the synthetic camera, so its
loop can be timed from inside: each ``reader.next_frame`` call is timed from the return of
the call before it (when that one gave a frame).  That is the time the loop spent on the
frame and on its duties (status, disk guard, segments) before it looked at the ring again;
the ring holds ``ring.slots`` frames, so a stall longer than that loses frames.

* start: the stall in which the first segment started (the encoder starts then);
* boundary: the stall in which the segment being written changed (the old one ended, the
  new one started with that frame);
* after: the other stalls of the second after a boundary (work left to a worker thread
  competes with the loop then);
* other: every other stall (one frame's encode, the periodic duties).

``python -m tests.bench.loop_stalls [--quick]`` prints the stalls' figures in milliseconds.
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

from recorder.recording import Recorder
from tests.bench.rig import Rig
from tests.support.procs import wait_until

FPS = 30


def measure(segment_s: int, boundaries: int) -> dict[str, list[float]]:
    """Stalls in ms by kind, until ``boundaries`` segment boundaries were seen."""
    stalls: dict[str, list[float]] = {"start": [], "boundary": [], "after": [], "other": []}
    with Rig(recorder__segment_seconds=segment_s, recorder__align_to_clock=False) as rig:
        rig.cameras(1)
        rec = Recorder(rig.cfg, 0)
        real = rec.reader.next_frame
        last: dict = {"t": None, "seg": None, "since": FPS}

        def timed(*args, **kwargs):
            start = time.perf_counter()
            if last["t"] is not None:
                took_ms = (start - last["t"]) * 1000
                if last["seg"] is not None and rec.seg is not None and rec.seg is not last["seg"]:
                    stalls["boundary"].append(took_ms)
                    last["since"] = 0
                elif not stalls["start"] and rec.seg is not None:
                    stalls["start"].append(took_ms)
                else:
                    stalls["after" if last["since"] < FPS else "other"].append(took_ms)
            frame = real(*args, **kwargs)
            last.update(t=time.perf_counter() if frame is not None else None, seg=rec.seg, since=last["since"] + 1)
            return frame

        rec.reader.next_frame = timed
        thread = threading.Thread(target=rec.run, name="recorder", daemon=True)
        thread.start()
        try:
            wait_until(lambda: len(stalls["boundary"]) >= boundaries, timeout=segment_s * (boundaries + 2) + 30)
        finally:
            rec.stop()
            thread.join(15)
    return stalls


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.loop_stalls")
    parser.add_argument("--quick", action="store_true", help="3 s segments, 3 boundaries (else 10 s, 5)")
    args = parser.parse_args()
    stalls = measure(*((3, 3) if args.quick else (10, 5)))
    for kind, values in stalls.items():
        print(f"{kind:8} n={len(values):4}  median {statistics.median(values):6.1f} ms  max {max(values):6.1f} ms  "
              f"all: {' '.join(f'{v:.1f}' for v in values) if kind == 'boundary' else '-'}")


if __name__ == "__main__":
    main()
