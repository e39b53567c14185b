"""The duplicate check fed in batches (intake.matching): the reports of one batch are
checked in stream order, so a report is linked to an earlier one of the same batch, and to
the earliest when several match; the links a transaction finds are appended only once it
is committed, so a batch that fails appends nothing of its open part and keeps its
committed parts, and, taken again, links each report once. On SQLite and PostgreSQL,
against a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from nats.js import JetStreamContext
from sqlalchemy import func, select

from common.database import Database
from common.events.catalogue import DuplicateSuspected, LeadReported
from common.eventstore import EventStore, LeadHistory
from common.subjects import Stream
from intake import duplicates, matching
from intake.domain.matters import band_keys, shingles
from intake.duplicates import matter_metadata, matters, near_reports, sharing_reports
from intake.matching import BatchCheck
from tests.support.factories import reported
from tests.support.intake import intake_events

pytestmark = pytest.mark.integration

MATTER = "村霸张某强占村集体鱼塘，还殴打前去理论的村民"
RETOLD = "村霸张某强占了村集体鱼塘，殴打前去理论的村民。"
OTHER = "村东头小卖部老板长期放高利贷，逼债上门"
AT = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


class CountingStore:
    """INTAKE as the check reads it, noting whose history it read."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.read: list[str] = []

    async def read_lead(self, lead_id: str) -> LeadHistory:
        self.read.append(lead_id)
        return await self._store.read_lead(lead_id)

    async def append(self, event: DuplicateSuspected) -> None:
        await self._store.append(event)


def fail_the_check_of(monkeypatch: pytest.MonkeyPatch, failing: set[str]) -> None:
    """The check of each report in ``failing`` fails, as when the stream or the database
    does not answer (the set emptied, checks succeed again)."""
    check = duplicates.DuplicateDetector.__call__

    async def failing_check(detector: duplicates.DuplicateDetector, event: LeadReported) -> None:
        if event.lead_id in failing:
            raise ConnectionError("the stream did not answer")
        await check(detector, event)

    monkeypatch.setattr(duplicates.DuplicateDetector, "__call__", failing_check)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    database.create_all(matter_metadata)
    yield database
    await database.dispose()


async def told(store: EventStore, summary: str, minutes: int) -> LeadReported:
    event = reported(summary=summary).model_copy(
        update={"occurred_at": AT + timedelta(minutes=minutes)}
    )
    await store.append(event, expected_sequence=0)
    return event


async def links(js: JetStreamContext, lead_id: str | None) -> list[str]:
    assert lead_id is not None
    return [
        e.duplicate_of
        for e in await intake_events(js, lead_id)
        if isinstance(e, DuplicateSuspected)
    ]


async def test_a_batch_links_each_report_to_the_earliest_of_its_matter_once(
    streams: JetStreamContext, database: Database
) -> None:
    store = EventStore(streams, Stream.INTAKE, "intake")
    runtime = SimpleNamespace(database=database, store=lambda _: store)
    first = await told(store, MATTER, 0)
    unrelated = await told(store, OTHER, 1)
    second = await told(store, RETOLD, 2)
    third = await told(store, MATTER, 3)
    batch = [first, unrelated, second, third]

    await BatchCheck(runtime, 0.6)(batch)  # type: ignore[arg-type]

    assert await links(streams, first.lead_id) == []
    assert await links(streams, unrelated.lead_id) == []
    assert await links(streams, second.lead_id) == [first.lead_id]
    # The same words as the first and the second: the first told is named.
    assert await links(streams, third.lead_id) == [first.lead_id]

    # Delivered again (its acknowledgement lost): nothing is linked twice.
    await BatchCheck(runtime, 0.6)(batch)  # type: ignore[arg-type]
    assert await links(streams, second.lead_id) == [first.lead_id]
    assert await links(streams, third.lead_id) == [first.lead_id]
    async with database.async_engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(matters))).scalar() == 4


async def test_only_a_report_checked_before_has_its_history_read_for_an_earlier_link(
    streams: JetStreamContext, database: Database
) -> None:
    """A link is appended only once its report's row is committed: a report the check has
    not seen before cannot be linked yet, and its history is not read; delivered again, it
    is read, and the link is not made twice."""
    store = CountingStore(EventStore(streams, Stream.INTAKE, "intake"))
    runtime = SimpleNamespace(database=database, store=lambda _: store)
    first = await told(store._store, MATTER, 0)
    second = await told(store._store, RETOLD, 1)

    await BatchCheck(runtime, 0.6)([first, second])  # type: ignore[arg-type]

    assert store.read == []
    assert await links(streams, second.lead_id) == [first.lead_id]

    await BatchCheck(runtime, 0.6)([first, second])  # type: ignore[arg-type]

    assert store.read == [second.lead_id]
    assert await links(streams, second.lead_id) == [first.lead_id]


async def test_a_batch_that_fails_appends_no_link_and_taken_again_links_once(
    streams: JetStreamContext, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matching, "HOLD_SECONDS", 3600.0)  # the batch in one transaction
    store = EventStore(streams, Stream.INTAKE, "intake")
    first = await told(store, MATTER, 0)
    second = await told(store, RETOLD, 1)
    third = await told(store, MATTER, 2)
    batch = [first, second, third]
    runtime = SimpleNamespace(database=database, store=lambda _: store)
    # The second's link is found, then the third's check fails: the batch is rolled back.
    failing = {third.lead_id}
    fail_the_check_of(monkeypatch, failing)

    with pytest.raises(ConnectionError):
        await BatchCheck(runtime, 0.6)(batch)  # type: ignore[arg-type]

    assert await links(streams, second.lead_id) == []
    async with database.async_engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(matters))).scalar() == 0

    failing.clear()
    await BatchCheck(runtime, 0.6)(batch)  # type: ignore[arg-type]
    assert await links(streams, second.lead_id) == [first.lead_id]
    assert await links(streams, third.lead_id) == [first.lead_id]


async def test_a_batch_failing_after_a_committed_part_keeps_that_part_and_links_once(
    streams: JetStreamContext, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matching, "HOLD_SECONDS", 0.0)  # each report its own transaction
    store = EventStore(streams, Stream.INTAKE, "intake")
    first = await told(store, MATTER, 0)
    second = await told(store, RETOLD, 1)
    third = await told(store, MATTER, 2)
    batch = [first, second, third]
    runtime = SimpleNamespace(database=database, store=lambda _: store)
    failing = {third.lead_id}
    fail_the_check_of(monkeypatch, failing)

    with pytest.raises(ConnectionError):
        await BatchCheck(runtime, 0.6)(batch)  # type: ignore[arg-type]

    # The second's part was committed, and its link appended; the third's was not.
    assert await links(streams, second.lead_id) == [first.lead_id]
    assert await links(streams, third.lead_id) == []
    failing.clear()
    await BatchCheck(runtime, 0.6)(batch)  # type: ignore[arg-type]
    assert await links(streams, second.lead_id) == [first.lead_id]
    assert await links(streams, third.lead_id) == [first.lead_id]
    async with database.async_engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(matters))).scalar() == 3


async def test_a_flood_of_one_text_reads_a_bounded_number_of_earlier_copies(
    streams: JetStreamContext, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every copy of one text is a candidate of every later one: each check reads at most
    MAX_CANDIDATE_ROWS band rows, confirms at most MAX_CONFIRMED copies, and still links a
    copy to an earlier one (on SQLite, read in the index's order, to the first)."""
    monkeypatch.setattr(duplicates, "MAX_CANDIDATE_ROWS", 5)
    monkeypatch.setattr(duplicates, "MAX_CONFIRMED", 3)
    store = EventStore(streams, Stream.INTAKE, "intake")
    runtime = SimpleNamespace(database=database, store=lambda _: store)
    copies = [await told(store, MATTER, minute) for minute in range(12)]

    await BatchCheck(runtime, 0.6)(copies)  # type: ignore[arg-type]

    last = copies[-1]
    keys = band_keys(last.category.value, shingles(f"{last.summary} {last.details}"))
    where = (last.village, last.occurred_at, last.lead_id)
    async with database.async_engine.connect() as conn:
        shared = (await conn.execute(*sharing_reports(keys, *where))).all()
        confirmed = (await conn.execute(*near_reports(keys, last.category.value, *where))).all()
    read = sum(row.shared for row in shared)
    assert read == 5
    assert 1 <= len(confirmed) <= 3
    earlier = {copy.lead_id for copy in copies[:-1]}
    for copy in copies[1:]:
        linked = await links(streams, copy.lead_id)
        assert len(linked) == 1
        assert linked[0] in earlier
        if database.url.get_backend_name() == "sqlite":
            assert linked == [copies[0].lead_id]
