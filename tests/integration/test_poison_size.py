"""A message near the broker's size limit cannot take a service down: the consumer parks it
by reference (a copy with headers would exceed the limit, and NATS closes the publisher's
connection for good), keeps its connection and goes on; and no service ever appends an
event so large."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import Engine

from common.deadletter import HEADER_BY_REFERENCE, HEADER_REASON, HEADER_SEQUENCE
from common.eventstore import MAX_EVENT_BYTES, EventStore, EventTooLarge
from intake.bootstrap import create_app
from tests.conftest import NatsTarget, wait_until
from tests.integration.test_projection_runner import (  # noqa: F401 - fixtures
    append_many,
    applied,
    engine,
    make_runner,
    store,
)
from tests.support.factories import new_lead_id, reported
from tests.support.intake import Keys, intake_settings, running

pytestmark = pytest.mark.integration


async def test_a_message_near_the_size_limit_is_parked_by_reference_and_the_rest_apply(
    js: JetStreamContext,
    store: EventStore,  # noqa: F811
    engine: Engine,  # noqa: F811
) -> None:
    before = await append_many(store, 2)
    limit = js._nc.max_payload
    huge = await js.publish(
        f"intake.lead.{new_lead_id()}.LeadReported",
        b'{"summary": "' + b"x" * (limit - 4096) + b'"}',
        headers={"Nats-Msg-Id": "huge"},
    )
    after = await append_many(store, 2)
    runner = make_runner(js, engine)
    await runner.start()
    try:
        await wait_until(lambda: len(applied(engine)) == 4)
        healthy = runner.health()
    finally:
        await runner.stop()

    assert js._nc.is_connected, "the consumer's connection survived"
    assert healthy is None
    assert [event_id for event_id, _ in applied(engine)] == before + after
    parked = await js.get_msg("DLQ_INTAKE", seq=1)
    assert parked.headers is not None
    assert parked.headers[HEADER_SEQUENCE] == str(huge.seq)
    assert parked.headers[HEADER_BY_REFERENCE] == f"{limit - 4096 + 15} bytes"
    assert "malformed event" in parked.headers[HEADER_REASON]
    assert not parked.data


async def test_no_event_over_the_limit_is_ever_sent(
    js: JetStreamContext,
    store: EventStore,  # noqa: F811
) -> None:
    too_long = reported(summary="村" * (MAX_EVENT_BYTES // 3 + 1))
    with pytest.raises(EventTooLarge) as refused:
        await store.append(too_long)
    assert "KiB" in refused.value.message_zh
    assert (await store.read_lead(too_long.lead_id)).events == ()
    assert js._nc.is_connected


async def test_a_service_whose_connection_closed_for_good_says_so_to_its_supervisor(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> None:
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with running(app) as intake:
        assert (await intake.get("/healthz")).status_code == 200
        # What nats-py does after a server error such as a message over max_payload.
        await app.state.runtime.broker.connection.close()
        alive = await intake.get("/healthz")
        ready = await intake.get("/readyz")
    assert alive.status_code == 503, alive.text
    assert "closed for good" in alive.json()["problem"]
    assert ready.status_code == 503
    assert "nats" in ready.json()["problems"]
