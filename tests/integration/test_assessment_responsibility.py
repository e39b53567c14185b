"""The assessment (考核) counts each fact for the unit responsible when it happened, not for
the unit holding the lead now: a deadline missed at the police station stays the station's
after the lead is handed to the judicial office, which concluded it in time for its own
deadline; a return is the judicial office's, which sent the lead back. On SQLite and
PostgreSQL, through the API; and a replay of the log up to the miss shows the assessment as
it stood then (time travel).

The ledger histories are scripted on LEDGER in China time, in March 2025."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import create_async_engine

from common.events import Actor, Event, Role
from common.events.catalogue import (
    DeadlineMissed,
    FeedbackGiven,
    LeadConcluded,
    LeadTransferred,
    ResponsibilityAssigned,
    TransferAccepted,
    TransferReturned,
)
from common.projection import Tracker
from common.replay import replay
from common.subjects import Stream
from common.vocabulary import Conclusion
from oversight.projection import PROJECTION
from oversight.projection.queries import assessments
from tests.support.factories import CHINA
from tests.support.oversight import (
    JUDICIAL,
    JUDICIAL_ACTOR,
    OFFICE,
    OFFICE_ACTOR,
    POLICE,
    POLICE_ACTOR,
    OversightService,
    get,
    ledger_log,
    oversight_caught_up,
    registered,
    report,
)

pytestmark = pytest.mark.integration

DEADLINE_WATCH = Actor(role=Role.SYSTEM, unit=OFFICE, user="deadline-watch")
FIELDS = (
    "unit",
    "month",
    "leads",
    "avg_hours_to_register",
    "on_time_rate",
    "feedback_rate",
    "conclusion_rate",
    "overdue",
    "returns",
    "score",
)


def china(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=CHINA)


def handed(lead_id: str, at: str, from_unit: str, to_unit: str, actor: Actor) -> Event:
    return LeadTransferred(
        lead_id=lead_id,
        from_unit=from_unit,
        to_unit=to_unit,
        reason="按职责移交",
        occurred_at=china(at),
        actor=actor,
    )


def assigned(lead_id: str, at: str, unit: str, person: str, deadline: str) -> Event:
    return ResponsibilityAssigned(
        lead_id=lead_id,
        unit=unit,
        assignee=person,
        assignee_name=person,
        deadline=china(deadline),
        occurred_at=china(at),
        actor=POLICE_ACTOR if unit == POLICE else JUDICIAL_ACTOR,
    )


def concluded_and_answered(lead_id: str, at: str, answered: str, actor: Actor) -> list[Event]:
    return [
        LeadConcluded(
            lead_id=lead_id,
            result=Conclusion.SUBSTANTIATED,
            summary="查证属实",
            occurred_at=china(at),
            actor=actor,
        ),
        FeedbackGiven(
            lead_id=lead_id, text="已办理，感谢您的举报", occurred_at=china(answered), actor=actor
        ),
    ]


async def appended(js: JetStreamContext, *events: Event) -> int:
    """The LEDGER sequence of the last of ``events``, appended in order."""
    sequence = 0
    for event in events:
        sequence = (await ledger_log(js).append(event)).sequence
    return sequence


async def test_a_missed_deadline_stays_with_the_unit_that_missed_it_and_a_return_with_the_unit_that_returned(
    streams: JetStreamContext, oversight_on_each_database: OversightService, tmp_path: Path
) -> None:
    js = streams

    # 1. Filed 1 h after the report, handed to the police, assigned until 10 March 18:00 and
    #    missed there; handed to the judicial office on 12 March, which is given until
    #    25 March and concludes on 20 March.
    first = await report(js, at=china("2025-03-03 08:00"))
    lead = first.lead_id
    missed_at = await appended(
        js,
        registered(first, china("2025-03-03 09:00"), 1),
        handed(lead, "2025-03-03 10:00", OFFICE, POLICE, OFFICE_ACTOR),
        TransferAccepted(
            lead_id=lead, unit=POLICE, occurred_at=china("2025-03-03 11:00"), actor=POLICE_ACTOR
        ),
        assigned(lead, "2025-03-03 12:00", POLICE, "li.police", "2025-03-10 18:00"),
        DeadlineMissed(
            lead_id=lead,
            unit=POLICE,
            assignee="li.police",
            deadline=china("2025-03-10 18:00"),
            occurred_at=china("2025-03-10 18:01"),
            actor=DEADLINE_WATCH,
        ),
    )
    await appended(
        js,
        handed(lead, "2025-03-12 09:00", POLICE, JUDICIAL, POLICE_ACTOR),
        TransferAccepted(
            lead_id=lead,
            unit=JUDICIAL,
            occurred_at=china("2025-03-12 10:00"),
            actor=JUDICIAL_ACTOR,
        ),
        assigned(lead, "2025-03-12 11:00", JUDICIAL, "wang.judicial", "2025-03-25 18:00"),
        *concluded_and_answered(lead, "2025-03-20 10:00", "2025-03-21 10:00", JUDICIAL_ACTOR),
    )

    # 2. Filed 3 h after the report, handed to the judicial office, which sends it back;
    #    the office hands it to the police, who conclude it before their deadline.
    second = await report(js, at=china("2025-03-05 08:00"))
    other = second.lead_id
    await appended(
        js,
        registered(second, china("2025-03-05 11:00"), 2),
        handed(other, "2025-03-05 12:00", OFFICE, JUDICIAL, OFFICE_ACTOR),
        TransferReturned(
            lead_id=other,
            unit=JUDICIAL,
            to_unit=OFFICE,
            reason="不属司法所职责",
            occurred_at=china("2025-03-06 09:00"),
            actor=JUDICIAL_ACTOR,
        ),
        handed(other, "2025-03-06 10:00", OFFICE, POLICE, OFFICE_ACTOR),
        assigned(other, "2025-03-06 11:00", POLICE, "zhao.police", "2025-03-30 18:00"),
        *concluded_and_answered(other, "2025-03-28 10:00", "2025-03-29 10:00", POLICE_ACTOR),
    )
    await oversight_caught_up(js)

    rows = await get(oversight_on_each_database.http, "/v1/oversight/assessments", user="auditor")
    # Judicial: handled the first lead (on time, concluded, answered: 100), returned the
    #   second (not a lead it handled).
    # Office: handed both on; registered them in (1 + 3) / 2 = 2 h.
    # Police: the first lead's deadline, missed and handed on, is late and overdue; the
    #   second, handled, concluded and answered on time: on time 1/2, concluded and answered
    #   1/1: 100 * (0.35 * 0.5 + 0.35 + 0.30) - 5 = 77.5.
    assert [tuple(row[f] for f in FIELDS) for row in rows] == [
        (JUDICIAL, "2025-03", 1, None, 1.0, 1.0, 1.0, 0, 1, 100.0),
        (OFFICE, "2025-03", 0, 2.0, None, None, None, 0, 0, 100.0),
        (POLICE, "2025-03", 1, None, 0.5, 1.0, 1.0, 1, 0, 77.5),
    ]

    # 3. Replayed up to the miss, as of 11 March: the police hold the first lead, late,
    #    with the miss; nothing yet of the judicial office's.
    replayed = tmp_path / "as-of.db"
    engine = create_engine(f"sqlite:///{replayed}")
    tracker = Tracker(engine, PROJECTION, owner="as-of")
    await replay(js, tracker, Stream.LEDGER, until_sequence=missed_at)
    engine.dispose()
    reader = create_async_engine(f"sqlite+aiosqlite:///{replayed}")
    try:
        async with reader.connect() as conn:
            then = await assessments(conn, china("2025-03-11 12:00"))
    finally:
        await reader.dispose()
    assert [(a.unit, a.leads, a.on_time_rate, a.overdue, a.returns, a.score) for a in then] == [
        (OFFICE, 0, None, 0, 0, 100.0),
        (POLICE, 1, 0.0, 1, 0, 0.0),
    ]
