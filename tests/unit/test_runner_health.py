"""When a projection consumer is not ready, as a rule: stopped, failing again and again
(even if up this instant), far behind its stream, or parking event after event; and ready
again once the window has passed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from common.runner import ProjectionRunner, RunnerOptions
from common.subjects import Stream

OPTIONS = RunnerOptions(unready_failures=3, unready_lag=100, unready_parked=5)


@pytest.fixture
async def runner() -> AsyncIterator[ProjectionRunner]:
    tracker = SimpleNamespace(projection=SimpleNamespace(name="health"))
    made = ProjectionRunner(
        cast(Any, None), cast(Any, tracker), Stream.LEDGER, "d", cast(Any, None), options=OPTIONS
    )
    running = asyncio.Event()
    made._task = asyncio.create_task(running.wait())  # a consumer that is up
    yield made
    running.set()
    await made._task


async def test_a_running_consumer_that_keeps_up_is_ready(runner: ProjectionRunner) -> None:
    assert runner.health() is None
    assert runner.healthy


async def test_a_consumer_failing_again_and_again_is_not_ready_even_while_up(
    runner: ProjectionRunner,
) -> None:
    now = time.monotonic()
    runner._failures.extend([now - 30, now - 20, now - 10])
    assert runner.health(now) == "failed 3 times in 5 minutes"
    assert runner.health(now + 300) is None, "old failures are forgiven"


async def test_a_consumer_far_behind_its_stream_is_not_ready(runner: ProjectionRunner) -> None:
    runner.lag = 100
    assert runner.health() == "100 events behind the stream"
    runner.lag = 99
    assert runner.health() is None


async def test_a_storm_of_parked_events_is_not_ready(runner: ProjectionRunner) -> None:
    now = time.monotonic()
    runner._parked.extend([now - 1] * 5)
    assert runner.health(now) == "5 events parked in 5 minutes"
    assert runner.health(now + 301) is None


async def test_a_stopped_consumer_is_not_ready(runner: ProjectionRunner) -> None:
    assert runner._task is not None
    runner._task.cancel()
    await asyncio.gather(runner._task, return_exceptions=True)
    assert runner.health() == "consumer stopped"
    runner._task = asyncio.create_task(asyncio.sleep(0))
