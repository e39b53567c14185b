"""The event store against a real JetStream: deduplication, optimistic concurrency,
per-lead reads and upcasting of stored old versions."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from nats.js import JetStreamContext

from common.events import EventDecodeError, decode
from common.events.catalogue import ResponsibilityAssigned
from common.eventstore import ConcurrencyConflict, EventStore
from common.streams import declare_streams, stream_config
from common.subjects import Stream
from tests.support.factories import new_lead_id, reported, supplemented

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(js: JetStreamContext) -> EventStore:
    await declare_streams(js, [Stream.INTAKE])
    return EventStore(js, Stream.INTAKE, "intake")


async def test_a_retried_append_is_stored_once(store: EventStore, js: JetStreamContext) -> None:
    event = reported()

    first = await store.append(event, expected_sequence=0)
    retry = await store.append(event)

    assert not first.duplicate
    assert retry.duplicate
    assert retry.sequence == first.sequence
    info = await js.stream_info("INTAKE")
    assert info.state.messages == 1


async def test_of_two_concurrent_appends_at_the_same_sequence_exactly_one_wins(
    store: EventStore,
) -> None:
    lead = new_lead_id()
    await store.append(reported(lead))
    seen = await store.read_lead(lead)

    results = await asyncio.gather(
        *(
            store.append(supplemented(lead, f"officer {n}"), expected_sequence=seen.last_sequence)
            for n in range(8)
        ),
        return_exceptions=True,
    )

    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(winners) == 1
    assert len(losers) == 7
    assert len((await store.read_lead(lead)).events) == 2


async def test_a_write_on_another_lead_does_not_conflict(store: EventStore) -> None:
    mine, theirs = new_lead_id(), new_lead_id()
    await store.append(reported(mine))
    seen = await store.read_lead(mine)
    await store.append(reported(theirs))

    appended = await store.append(supplemented(mine), expected_sequence=seen.last_sequence)

    assert appended.sequence > seen.last_sequence


async def test_a_new_lead_expects_sequence_zero(store: EventStore) -> None:
    lead = new_lead_id()
    await store.append(reported(lead), expected_sequence=0)

    with pytest.raises(ConcurrencyConflict):
        await store.append(reported(lead), expected_sequence=0)


async def test_reading_a_lead_returns_only_its_events_in_order(store: EventStore) -> None:
    lead, other = new_lead_id(), new_lead_id()
    await store.append(reported(lead))
    await store.append(reported(other))
    await store.append(supplemented(lead, "first"))
    await store.append(supplemented(lead, "second"))

    history = await store.read_lead(lead)

    assert [e.event.event_type for e in history.events] == [
        "LeadReported",
        "LeadSupplemented",
        "LeadSupplemented",
    ]
    assert [e.event.text for e in history.events[1:]] == ["first", "second"]  # type: ignore[attr-defined]
    assert history.last_sequence == history.events[-1].sequence
    assert (await store.read_lead(new_lead_id())).last_sequence == 0


async def test_an_event_stored_in_an_older_version_is_upcast_on_read(
    js: JetStreamContext,
) -> None:
    await declare_streams(js, [Stream.LEDGER])
    store = EventStore(js, Stream.LEDGER, "ledger")
    lead = new_lead_id()
    version_one = {
        "event_type": "ResponsibilityAssigned",
        "schema_version": 1,
        "event_id": "old-assignment-1",
        "lead_id": lead,
        "occurred_at": "2025-03-01T02:00:00Z",
        "actor": {"role": "office", "unit": "shd-office", "user": "office"},
        "unit": "shd-police",
        "assignee": "wang.wei",
        "deadline_date": "2025-03-15",
    }
    # As the event store of the time appended it: the event id is the Nats-Msg-Id.
    await js.publish(
        f"ledger.lead.{lead}.ResponsibilityAssigned",
        orjson.dumps(version_one),
        headers={"Nats-Msg-Id": "old-assignment-1"},
    )

    (stored,) = (await store.read_lead(lead)).events

    event = stored.event
    assert isinstance(event, ResponsibilityAssigned)
    assert event.schema_version == 2
    assert event.assignee_name == "wang.wei"
    # End of 15 March in China Standard Time.
    assert event.deadline.isoformat() == "2025-03-15T15:59:59+00:00"


def test_a_stored_event_is_never_rewritten_by_upcasting() -> None:
    raw = orjson.dumps(
        {
            "event_type": "ResponsibilityAssigned",
            "schema_version": 1,
            "event_id": "e1",
            "lead_id": "L1",
            "occurred_at": "2025-03-01T02:00:00Z",
            "unit": "shd-police",
            "assignee": "wang.wei",
            "deadline_date": "2025-03-15",
        }
    )
    before = bytes(raw)
    decode(raw, "ResponsibilityAssigned")
    assert raw == before


def test_an_unknown_version_is_refused_with_a_reason() -> None:
    raw = orjson.dumps({"event_type": "LeadArchived", "schema_version": 7, "lead_id": "L1"})
    with pytest.raises(EventDecodeError, match="no schema version 7"):
        decode(raw, "LeadArchived")


def test_an_event_stored_under_another_type_is_refused() -> None:
    raw = reported().model_dump_json().encode()
    with pytest.raises(EventDecodeError, match="stored as LeadArchived but is LeadReported"):
        decode(raw, "LeadArchived")


async def test_streams_are_append_only_and_declared_idempotently(js: JetStreamContext) -> None:
    await declare_streams(js, [Stream.INTAKE])
    await declare_streams(js, [Stream.INTAKE])

    info = await js.stream_info("INTAKE")

    assert info.config.deny_delete
    assert info.config.deny_purge
    assert info.config.storage == stream_config(Stream.INTAKE).storage
    assert info.config.duplicate_window == stream_config(Stream.INTAKE).duplicate_window
