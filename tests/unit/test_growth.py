"""The stream-growth alarm as a rule: it rises when a stream grows faster than its budget
over a long enough window, says so once, and clears when the growth is back under."""

from __future__ import annotations

from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from common.growth import StreamGrowth
from common.subjects import Stream

MIB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def growth(clock: Clock, budget: int = 64 * MIB) -> StreamGrowth:
    return StreamGrowth(cast(Any, None), [Stream.INTAKE], budget, clock=clock)


def test_a_burst_shorter_than_five_minutes_raises_no_alarm(clock: Clock) -> None:
    watcher = growth(clock)
    watcher.record(Stream.INTAKE, 0)
    clock.now = 60
    watcher.record(Stream.INTAKE, 500 * MIB)
    assert watcher.alarmed == set()


def test_growth_over_the_budget_raises_the_alarm_once_and_it_clears(clock: Clock) -> None:
    watcher = growth(clock)
    size = 0
    with capture_logs() as logs:
        for _ in range(12):  # an hour of 5-minute samples at 12 MiB each: 144 MiB/h
            watcher.record(Stream.INTAKE, size)
            clock.now += 300
            size += 12 * MIB
        assert watcher.alarmed == {Stream.INTAKE}
        for _ in range(24):  # the flood stops; an hour later the rate is zero
            watcher.record(Stream.INTAKE, size)
            clock.now += 300
    assert watcher.alarmed == set()
    events = [entry["event"] for entry in logs]
    assert events.count("stream_growth_alarm") == 1
    assert events.count("stream_growth_normal") == 1


def test_steady_growth_under_the_budget_is_quiet(clock: Clock) -> None:
    watcher = growth(clock)
    for n in range(24):
        watcher.record(Stream.INTAKE, n * MIB)
        clock.now += 300
    assert watcher.alarmed == set()
