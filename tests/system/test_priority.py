"""Recording wins over live view for the CPU: the streamer runs at a lower priority (a
higher nice value) than the capture processes and the recorders."""
from __future__ import annotations

import os


def nice_of(pid: int) -> int:
    # /proc/<pid>/stat: field 19 is the nice value (after the command name in parentheses)
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[16])


def test_streamer_yields_the_cpu_to_recording(procs, sht_env) -> None:
    cap = procs.capture(0)
    rec = procs.start("rec0", "-m", "recorder", "--camera", "0")
    streamer = procs.start_streamer()
    base = os.nice(0)
    assert nice_of(streamer.pid) == max(base, 10)
    assert nice_of(cap.pid) == base and nice_of(rec.pid) == base
    # every thread of the streamer (encoders included) runs at that priority
    for tid in os.listdir(f"/proc/{streamer.pid}/task"):
        fields = open(f"/proc/{streamer.pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        assert int(fields[16]) == max(base, 10)
