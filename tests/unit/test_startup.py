"""The start-up of a program that serves every camera: the stop signal seen before the program's
own handlers, and the wait while something it needs is not there (the recordings disk)."""
from __future__ import annotations

import logging
import os
import signal

import pytest

from common.process.startup import StopSignal


@pytest.fixture
def stop():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    yield StopSignal()
    signal.signal(signal.SIGTERM, before[0])
    signal.signal(signal.SIGINT, before[1])


def test_the_wait_ends_when_the_problem_clears_and_says_it_once(stop, caplog):
    answers = iter(["/mnt/rec is not mounted", "/mnt/rec is not mounted", ""])
    with caplog.at_level(logging.ERROR):
        assert stop.wait_while(lambda: next(answers), "off-site copies", 0.0, logging.getLogger("t"))
    assert [r.getMessage() for r in caplog.records] == [
        "/mnt/rec is not mounted: off-site copies starts once it is there"]


def test_a_stop_signal_during_the_wait_ends_it_with_false(stop):
    polls = []

    def problem() -> str:
        polls.append(1)
        if len(polls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return "/mnt/rec is not mounted"

    assert not stop.wait_while(problem, "motion detection", 0.0, logging.getLogger("t"))
    assert stop.seen and len(polls) == 2


def test_no_problem_means_no_wait_and_no_line(stop, caplog):
    with caplog.at_level(logging.ERROR):
        assert stop.wait_while(lambda: "", "motion detection", 10.0, logging.getLogger("t"))
    assert caplog.records == []


def test_idle_returns_0_once_the_stop_signal_came(stop):
    old = signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        assert stop.idle() == 0
    finally:
        signal.signal(signal.SIGALRM, old)
    assert stop.seen
