"""Windowed meters: one look gives every statistic, and reading never disturbs a writer thread."""
from __future__ import annotations

import random
import threading
import time

from common.meter import RateMeter


def test_summary_agrees_with_each_statistic():
    meter = RateMeter(window=2.0, max_events=128)
    now = time.monotonic()
    assert meter.summary(50, 99, now=now) == (0.0, 0.0, [0.0, 0.0])
    for i in range(200):                       # older than the window, and more than fit
        meter.add(random.random() * 10, now - 3 + i / 60)
    rate, mean, (p50, p99) = meter.summary(50, 99, now=now)
    assert (rate, mean, p50, p99) == (meter.rate(now), meter.mean(now), meter.percentile(50, now),
                                      meter.percentile(99, now))
    assert 59 < rate < 61 and p50 <= p99


def test_a_meter_is_read_while_another_thread_adds():
    meter = RateMeter(window=2.0, max_events=64)
    stop = threading.Event()

    def add() -> None:
        while not stop.is_set():
            meter.add(1.0)
    writer = threading.Thread(target=add)
    writer.start()
    try:
        for _ in range(3000):
            meter.summary(50, 99)
            meter.rate()
    finally:
        stop.set()
        writer.join()
    assert meter.mean() == 1.0
