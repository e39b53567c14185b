"""A replay into empty tables builds their secondary indexes once, at its end: the batches
are applied without them, and the tables end with every index they declare, after a
failure too. A replay onto tables that hold rows keeps their indexes throughout (someone
may read them). On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nats.js import JetStreamContext
from sqlalchemy import Column, Engine, Index, MetaData, String, Table, create_engine
from sqlalchemy import inspect as inspect_db

from common.batchwriter import BatchWriter
from common.database import sync_url
from common.events import Event
from common.eventstore import EventStore
from common.projection import Projection, Tracker
from common.replay import replay
from common.streams import declare_streams
from common.subjects import Stream
from tests.support.factories import reported

pytestmark = pytest.mark.integration

metadata = MetaData()

seen = Table(
    "seen_reports",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False),
    Column("summary", String(200), nullable=False),
    Index("ix_seen_reports_lead", "lead_id"),
    Index("ix_seen_reports_summary", "summary"),
)

FAIL = "fail here"
INDEXES = {"ix_seen_reports_lead", "ix_seen_reports_summary"}

# What each batch found of the indexes, in the order the batches were applied (forked
# children write to their own copy: these tests replay inline).
indexes_seen: list[set[str]] = []


def _record(db: BatchWriter, event: Event) -> None:
    summary = getattr(event, "summary", "")
    if summary == FAIL:
        raise RuntimeError("refused")
    indexes_seen.append(_indexes(db.conn))
    db.put(seen, {"event_id": event.event_id, "lead_id": event.lead_id, "summary": summary})


def _indexes(bind: object) -> set[str]:
    return {index["name"] for index in inspect_db(bind).get_indexes(seen.name)} & INDEXES


def _projection() -> Projection:
    return Projection(name="seen", metadata=metadata, handlers={"LeadReported": _record})


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(sync_url(database_url))
    indexes_seen.clear()
    yield engine
    engine.dispose()


@pytest.fixture
async def store(js: JetStreamContext) -> EventStore:
    await declare_streams(js, [Stream.INTAKE])
    return EventStore(js, Stream.INTAKE, "intake")


async def test_a_replay_into_empty_tables_applies_without_their_indexes_and_ends_with_all(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    for _ in range(6):
        await store.append(reported())

    report = await replay(js, Tracker(engine, _projection(), "replay"), Stream.INTAKE, batch_size=2)

    assert report.applied == 6
    assert indexes_seen == [set()] * 6
    assert _indexes(engine) == INDEXES


async def test_a_replay_that_fails_leaves_the_tables_with_all_their_indexes(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    for summary in ("one", "two", FAIL):
        await store.append(reported(summary=summary))
    tracker = Tracker(engine, _projection(), "replay")

    with pytest.raises(RuntimeError, match="refused"):
        await replay(js, tracker, Stream.INTAKE, batch_size=2)

    assert indexes_seen == [set(), set()]
    assert _indexes(engine) == INDEXES
    # The lease is given back as well.
    assert Tracker(engine, _projection(), "someone-else").acquire_lease()


async def test_a_replay_onto_tables_that_hold_rows_keeps_their_indexes_throughout(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    for _ in range(4):
        await store.append(reported())
    tracker = Tracker(engine, _projection(), "replay")
    await replay(js, tracker, Stream.INTAKE, until_sequence=2)
    indexes_seen.clear()

    report = await replay(js, tracker, Stream.INTAKE, from_sequence=3)

    assert report.applied == 2
    assert indexes_seen == [INDEXES, INDEXES]
