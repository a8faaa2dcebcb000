"""A hung camera stack (in a capture, or in stop()/close() after a failure) must not keep a
capture process alive without frames: the watchdog ends it so supervisord starts another."""
from __future__ import annotations

import time

import pytest

from common.ipc.frame_reader import RingReader
from common.ipc.names import ring_name
from tests.support.procs import wait_until

WATCHDOG_S = 2.0


@pytest.mark.parametrize("hang,extra,doing", [
    # frames flow, then a capture blocks for ever whatever its timeout
    ("capture", {"FAKE_PICAMERA2_HANG_AFTER": "20"}, "waiting for a frame"),
    # the camera goes silent (a capture timeout ends the loop), then close() blocks for ever
    ("close", {"FAKE_PICAMERA2_STALL_AFTER": "20"}, "closing the camera"),
])
def test_hung_camera_ends_the_capture_process(procs, pi_env, hang: str, extra: dict, doing: str) -> None:
    env = dict(pi_env, FAKE_PICAMERA2_HANG=hang, SHT__CAMERA__WATCHDOG_SECONDS=str(WATCHDOG_S),
               SHT__CAMERA__CAPTURE_TIMEOUT="1", **extra)
    proc = procs.start("capture0", "-m", "capture", "--camera", "0", env=env)
    reader = RingReader(ring_name(env["SHT__RING__PREFIX"], 0, "hd"))
    try:
        wait_until(lambda: reader.status().frames > 0 or reader.status().last_index >= 0, 20)
        last_frame = time.monotonic()
        code = proc.wait(timeout=30)          # without a watchdog it never exits
        waited = time.monotonic() - last_frame
    finally:
        reader.close()
    log = procs.log("capture0")
    assert code != 0
    assert "watchdog_seconds" in log and doing in log, log[-1500:]
    assert waited < WATCHDOG_S + 8
