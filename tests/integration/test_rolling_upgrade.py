"""A rolling upgrade: a newer writer adds a field to an event; a consumer still on the older
version applies the event (without the field) instead of parking it."""

from __future__ import annotations

import orjson
import pytest
from nats.js import JetStreamContext
from sqlalchemy import Engine

from common.events import encode
from common.eventstore import EventStore
from tests.conftest import wait_until
from tests.integration.test_projection_runner import (  # noqa: F401 - fixtures
    applied,
    engine,
    make_runner,
    store,
)
from tests.support.factories import reported

pytestmark = pytest.mark.integration


async def test_an_event_with_a_field_added_by_a_newer_writer_is_applied_not_parked(
    js: JetStreamContext,
    store: EventStore,  # noqa: F811
    engine: Engine,  # noqa: F811
) -> None:
    event = reported()
    newer = orjson.loads(encode(event)) | {"town": "shd", "channel_detail": "12345 热线"}
    await js.publish(
        f"intake.lead.{event.lead_id}.LeadReported",
        orjson.dumps(newer),
        headers={"Nats-Msg-Id": event.event_id},  # appended as any event store appends
    )
    runner = make_runner(js, engine)
    await runner.start()
    try:
        await wait_until(lambda: len(applied(engine)) == 1)
    finally:
        await runner.stop()

    assert applied(engine) == [(event.event_id, "LeadReported")]
    assert (await js.stream_info("DLQ_INTAKE")).state.messages == 0
    [stored] = (await store.read_lead(event.lead_id)).events
    assert stored.event == event
