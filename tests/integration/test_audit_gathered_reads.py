"""Reads recorded together (common.audit): the records of concurrent reads share one append
to AUDIT, each read returns only once the append carrying its record is acknowledged, a
read alone is still a LeadViewed on its lead's subject, a failed append fails every read it
carried, and the committee's access log counts each gathered read as a read of its own."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from nats.js import JetStreamContext

from common.audit import AccessRecorder
from common.events import Actor, Role, utc_now
from common.events.catalogue import MOST_VIEWS, LeadsViewed, LeadViewed, View
from common.eventstore import EventStore, LogUnavailable
from common.subjects import Stream
from common.vocabulary import Flag
from tests.conftest import NatsTarget
from tests.integration.test_oversight_access_views import SCREENER_V01, SCREENER_V02
from tests.support.oversight import (
    OversightService,
    case_of,
    get,
    ledger_audit,
    oversight_caught_up,
    record,
    registered,
    report,
)
from tests.support.streams import events_on, stored_on

pytestmark = pytest.mark.integration

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")


def read_of(lead_id: str, actor: Actor = OFFICE, purpose: str = "核查") -> LeadViewed:
    return LeadViewed(lead_id=lead_id, service="ledger", purpose=purpose, actor=actor)


async def test_concurrent_reads_share_appends_and_each_is_recorded_once(
    streams: JetStreamContext,
) -> None:
    js = streams
    recorder = AccessRecorder(lambda: ledger_audit(js), "ledger")
    before = await stored_on(js, Stream.AUDIT, "audit.ledger.>")
    reads = [read_of(f"gathered-{i:03d}") for i in range(MOST_VIEWS + 72)]

    await asyncio.gather(*(recorder.record(r) for r in reads))

    stored = (await stored_on(js, Stream.AUDIT, "audit.ledger.>"))[len(before) :]
    # Fewer appends than reads: the reads that came while an append waited went together,
    # never more than one event carries.
    assert len(stored) < len(reads)
    gathered = [s.event for s in stored if isinstance(s.event, LeadsViewed)]
    assert gathered
    assert all(len(e.views) <= MOST_VIEWS for e in gathered)
    assert {s.subject for s in stored if isinstance(s.event, LeadsViewed)} == {
        "audit.ledger.global.LeadsViewed"
    }
    # Every read exactly once, under the id its own LeadViewed has, with what it said.
    recorded = [
        (v.event_id, v.lead_id, v.actor, v.purpose, v.occurred_at)
        for e in gathered
        for v in e.views
    ] + [
        (e.event_id, e.lead_id, e.actor, e.purpose, e.occurred_at)
        for e in (s.event for s in stored)
        if isinstance(e, LeadViewed)
    ]
    assert sorted(recorded) == sorted(
        (r.event_id, r.lead_id, r.actor, r.purpose, r.occurred_at) for r in reads
    )


async def test_a_read_alone_is_a_lead_viewed_on_its_lead(streams: JetStreamContext) -> None:
    js = streams
    recorder = AccessRecorder(lambda: ledger_audit(js), "ledger")
    alone = read_of("alone-0001")
    await recorder.record(alone)
    assert await events_on(js, Stream.AUDIT, "audit.ledger.lead.alone-0001.>") == [alone]


async def test_an_over_long_purpose_is_recorded_on_its_own(streams: JetStreamContext) -> None:
    js = streams
    recorder = AccessRecorder(lambda: ledger_audit(js), "ledger")
    long = read_of("long-0001", purpose="为" * 500)
    others = [read_of(f"long-other-{i}") for i in range(5)]
    await asyncio.gather(recorder.record(long), *(recorder.record(r) for r in others))
    assert await events_on(js, Stream.AUDIT, "audit.ledger.lead.long-0001.>") == [long]


class Unavailable(EventStore):
    """An audit stream that answers no append, as when JetStream is down."""

    async def append(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        await asyncio.sleep(0)  # an await point, as a real append has: other reads gather meanwhile
        raise LogUnavailable(self.stream.value)


async def test_every_read_a_failed_append_carried_fails_with_it(
    streams: JetStreamContext,
) -> None:
    js = streams
    recorder = AccessRecorder(lambda: Unavailable(js, Stream.AUDIT, "audit.ledger"), "ledger")
    outcomes = await asyncio.gather(
        *(recorder.record(read_of(f"lost-{i}")) for i in range(20)), return_exceptions=True
    )
    assert all(isinstance(o, LogUnavailable) for o in outcomes), outcomes
    # The recorder is not stuck: the next read, on a working stream, is stored.
    recorder = AccessRecorder(lambda: ledger_audit(js), "ledger")
    await recorder.record(read_of("after-0001"))
    assert len(await events_on(js, Stream.AUDIT, "audit.ledger.lead.after-0001.>")) == 1


async def test_the_access_log_counts_each_gathered_read(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    oversight_on_each_database: OversightService,
) -> None:
    js, oversight = streams, oversight_on_each_database
    moved = (utc_now() - timedelta(days=1)).replace(microsecond=0)
    lead = await report(js, flags=(Flag.INVOLVES_OFFICIAL,), at=moved - timedelta(days=1))
    await record(js, registered(lead, moved - timedelta(hours=20)))
    await case_of(oversight.http, lead.lead_id)
    # Both kinds on the stream: a read alone (a LeadViewed) and reads gathered.
    await AccessRecorder(lambda: ledger_audit(js), "ledger").record(
        read_of(lead.lead_id, SCREENER_V01, "查阅线索")
    )
    reads = [
        read_of(lead.lead_id, SCREENER_V02, "核实"),
        read_of(lead.lead_id, OFFICE, "审核"),
        read_of(lead.lead_id, OFFICE, "审核"),
    ]
    gathered = LeadsViewed(
        service="ledger",
        views=tuple(
            View(
                event_id=r.event_id,
                lead_id=lead.lead_id,
                occurred_at=r.occurred_at,
                actor=r.actor,
                purpose=r.purpose,
            )
            for r in reads
        ),
    )
    await ledger_audit(js).append(gathered)
    await oversight_caught_up(js)

    log = await get(oversight.http, "/v1/oversight/access-log", lead_id=lead.lead_id)
    ledger_reads = {
        (e["user"], e["count"], tuple(e["purposes"])) for e in log if e["service"] == "ledger"
    }
    assert ledger_reads == {
        ("screener.v01", 1, ("查阅线索",)),
        ("screener.v02", 1, ("核实",)),
        ("office", 2, ("审核",)),
    }
