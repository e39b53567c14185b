"""A projection fed by two streams reads them side by side: an event about something the
other stream has not created yet waits for it instead of being lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import create_engine, select

from common.deadletter import DeadLetters
from common.events import Actor, Role
from common.events.catalogue import LeadRegistered, SupervisionListed
from common.eventstore import EventStore
from common.projection import Tracker
from common.runner import ProjectionRunner, RunnerOptions
from common.streams import declare_streams
from common.subjects import Service, Stream
from common.vocabulary import Category, Channel
from ledger.projection import SUBSCRIPTIONS
from ledger.projection.tables import leads
from tests.conftest import wait_until
from tests.support.factories import new_lead_id

pytestmark = pytest.mark.integration

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline")


async def test_a_directive_read_before_its_lead_is_filed_is_applied_when_the_lead_is(
    js: JetStreamContext, tmp_path: Path
) -> None:
    await declare_streams(js, [Stream.LEDGER, Stream.DIRECTIVES, Stream.DLQ_LEDGER])
    lead = new_lead_id()
    deadline = datetime.now(UTC) + timedelta(days=10)
    # The directive is there before the ledger has filed the lead.
    await EventStore(js, Stream.DIRECTIVES, "directive").append(
        SupervisionListed(lead_id=lead, unit="shd-police", deadline=deadline, actor=COMMITTEE)
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    tracker = Tracker(engine, SUBSCRIPTIONS[0].projection, owner="test")
    runners = [
        ProjectionRunner(
            js,
            tracker,
            sub.stream,
            durable=f"test-{sub.stream.value}",
            dead_letters=DeadLetters(js, Service.LEDGER),
            options=RunnerOptions(batch_size=10, fetch_timeout=0.2),
        )
        for sub in SUBSCRIPTIONS
    ]
    for runner in runners:
        await runner.start()
    try:
        await wait_until(lambda: tracker.position("DIRECTIVES") == 1)
        await EventStore(js, Stream.LEDGER, "ledger").append(
            LeadRegistered(
                for_committee=False,
                lead_id=lead,
                ledger_number="SHD-2026-000001",
                unit="shd-office",
                reported_at=datetime.now(UTC),
                channel=Channel.HOTLINE,
                category=Category.VILLAGE_TYRANT,
                summary="村霸强占鱼塘",
                actor=OFFICE,
            )
        )
        await wait_until(lambda: tracker.position("LEDGER") == 1)
    finally:
        for runner in runners:
            await runner.stop()

    with engine.connect() as conn:
        row = conn.execute(
            select(leads.c.supervision_deadline).where(leads.c.lead_id == lead)
        ).one()
    assert row.supervision_deadline is not None
    assert row.supervision_deadline.replace(tzinfo=UTC) == deadline.replace(
        microsecond=deadline.microsecond
    )
    engine.dispose()
