"""A service's background jobs (deadlines, retention, scrubbing, stream growth) stop when the
service stops, even when a library they call swallows the cancellation (nats-py does, when
the cancellation arrives while it flushes a publish)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from common.service import ServiceRuntime
from common.settings import ServiceSettings
from common.subjects import Service

ROUND_SECONDS = 3600.0  # a round far longer than any test: the stop must not wait it out
STOP_BOUND = 5.0  # only to fail instead of hanging; a stop takes milliseconds


def runtime(tmp_path: Path) -> ServiceRuntime:
    settings = ServiceSettings(
        service=Service.LEDGER,
        http_port=8102,
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        users_file=tmp_path / "users.toml",
    )
    return ServiceRuntime(settings, title="background jobs")


async def run_hooks(hooks: list) -> None:  # type: ignore[type-arg]
    for hook in hooks:
        await hook()


async def stop(service: ServiceRuntime) -> None:
    """Stop the jobs; fail, without cancelling anything, if that does not finish by itself
    (asyncio.wait_for would cancel the stop, and that second cancellation would end the
    job and hide the defect)."""
    stopping = asyncio.ensure_future(run_hooks(service._on_stop))
    done, _ = await asyncio.wait({stopping}, timeout=STOP_BOUND)
    assert stopping in done, "the background job did not stop"
    await stopping


async def test_a_job_that_swallows_its_cancellation_still_stops(tmp_path: Path) -> None:
    service = runtime(tmp_path)
    inside = asyncio.Event()
    rounds = 0

    async def swallowing_job() -> None:
        nonlocal rounds
        rounds += 1
        inside.set()
        with contextlib.suppress(asyncio.CancelledError):  # as nats-py's _flush_pending
            await asyncio.sleep(ROUND_SECONDS)

    service.every(ROUND_SECONDS, swallowing_job, "swallowing")
    await run_hooks(service._on_start)
    await inside.wait()
    await stop(service)
    assert rounds == 1, "the job ran again after the service stopped"
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "swallowing"]


async def test_a_job_between_rounds_stops_at_once_and_runs_again_after_a_restart(
    tmp_path: Path,
) -> None:
    service = runtime(tmp_path)
    ran = asyncio.Queue[int]()

    async def job() -> None:
        ran.put_nowait(1)

    service.every(ROUND_SECONDS, job, "between-rounds")
    await run_hooks(service._on_start)
    await ran.get()
    await stop(service)
    await run_hooks(service._on_start)
    await asyncio.wait_for(ran.get(), STOP_BOUND)
    await stop(service)
