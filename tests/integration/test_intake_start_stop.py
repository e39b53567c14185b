"""Intake starting and stopping: started on an empty database it rebuilds its read model
from the log, and it stops even when a delivery arrives as it stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from common.pull import Puller
from common.subjects import Stream
from intake.bootstrap import create_app
from tests.conftest import NatsTarget, wait_until
from tests.support.intake import (
    Keys,
    cancel_swallowed_cancellations,
    intake_settings,
    lead,
    running,
    unique,
    wait_until_projected,
)

pytestmark = pytest.mark.integration


async def test_an_intake_started_on_an_empty_database_rebuilds_its_read_model_from_the_log(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> None:
    settings = intake_settings(nats_target, sqlite_url, tmp_path, keys)
    async with running(create_app(settings)) as intake:
        reported = await intake.post("/v1/reports", json=lead(unique("村霸阻挠发放征地补偿")))
        assert reported.status_code == 201, reported.text
        lead_id = reported.json()["lead_id"]
        await wait_until_projected(sqlite_url, lead_id)

    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    async with running(create_app(intake_settings(nats_target, fresh_url, tmp_path, keys))):
        # The durable consumers acknowledged every event for the old database; the new one
        # (at position 0) gets them only if its runner starts from its own stored position.
        await wait_until_projected(fresh_url, lead_id, timeout=5.0)


async def test_intake_stops_even_when_a_delivery_arrives_as_it_stops(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    sqlite_url: str,
    tmp_path: Path,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pullers: list[Puller] = []
    start_puller = Puller.start

    async def recorded(puller: Puller) -> None:
        pullers.append(puller)
        await start_puller(puller)

    monkeypatch.setattr(Puller, "start", recorded)
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with running(app) as intake:
        reported = await intake.post("/v1/reports", json=lead(unique("村霸强行摊派费用")))
        assert reported.status_code == 201, reported.text
        [runner] = [r for r in app.state.runtime.runners if r.stream is Stream.INTAKE]
        await wait_until(runner.caught_up.is_set)
        [puller] = [p for p in pullers if p._subject.endswith(f".{runner.durable}")]

        # A delivery (or the server's "request expired" status) wakes the idle runner in
        # the same turn of the event loop as the service's shutdown cancels it.
        puller._arrived.set()
        stopping = asyncio.ensure_future(runner.stop())
        stopped, _ = await asyncio.wait({stopping}, timeout=2.0)
        if not stopped:
            cancel_swallowed_cancellations()
        await stopping

    assert stopped, (
        "the projection runner ignored its cancellation (as Python 3.11's asyncio.wait_for "
        "does when the wait it cancels is woken in the same turn)"
    )
