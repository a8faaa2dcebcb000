"""Recording wins over live view for the CPU: the streamer runs at a lower priority (a
higher nice value) than the capture processes and the recorders."""
from __future__ import annotations

import os

import httpx

from tests.procs import wait_until


def nice_of(pid: int) -> int:
    # /proc/<pid>/stat: field 19 is the nice value (after the command name in parentheses)
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[16])


def test_streamer_yields_the_cpu_to_recording(procs, sht_env) -> None:
    cap = procs.capture(0)
    rec = procs.start("rec0", "-m", "recorder", "--camera", "0")
    streamer = procs.start("streamer", "-m", "streamer")
    url = f"http://127.0.0.1:{sht_env['SHT__STREAMER__PORT']}"

    def up() -> bool:
        try:
            return httpx.head(url + "/stream?view=0", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False
    wait_until(up, 30)
    base = os.nice(0)
    assert nice_of(streamer.pid) == max(base, 10)
    assert nice_of(cap.pid) == base and nice_of(rec.pid) == base
    # every thread of the streamer (encoders included) runs at that priority
    for tid in os.listdir(f"/proc/{streamer.pid}/task"):
        fields = open(f"/proc/{streamer.pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        assert int(fields[16]) == max(base, 10)
