"""What the committee reads back of one lead's handling: the responsibility trace (which unit
and which person held the lead, from when to when, by whose assignment), the access log
(who read it, flagging readers outside the units that held it, and the committee's own
reads), and the leak-risk report (outsiders' reads shortly before a transfer or an
assignment).

The lead's ledger history is scripted on LEDGER, with the times the test chooses, and its
reads on AUDIT; each test runs on SQLite, then on PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext

from common.events import Actor, Role, utc_now
from common.events.catalogue import (
    DeadlineExtended,
    LeadTransferred,
    LeadViewed,
    ResponsibilityAssigned,
    TransferAccepted,
)
from common.subjects import Stream
from common.vocabulary import Flag
from tests.support.apps import parse
from tests.support.oversight import (
    DISCIPLINE,
    JUDICIAL,
    JUDICIAL_ACTOR,
    OFFICE,
    OFFICE_ACTOR,
    POLICE,
    POLICE_ACTOR,
    OversightService,
    case_of,
    get,
    ledger_audit,
    oversight_caught_up,
    record,
    registered,
    report,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration


def viewed(lead_id: str, actor: Actor, at: datetime) -> LeadViewed:
    return LeadViewed(
        lead_id=lead_id, service="ledger", purpose="查阅线索", actor=actor, occurred_at=at
    )


@dataclass(frozen=True)
class Handled:
    """A lead filed twelve days ago, handed to the police and on to the judicial office,
    read in the ledger by the police and by two village screeners."""

    lead_id: str
    t0: datetime  # when it was filed

    def at(self, days: float = 0, hours: float = 0) -> datetime:
        return self.t0 + timedelta(days=days, hours=hours)


async def handled_and_read(js: JetStreamContext) -> Handled:
    t0 = (utc_now() - timedelta(days=12)).replace(microsecond=0)
    lead = await report(
        js,
        flags=(Flag.INVOLVES_OFFICIAL,),
        summary="村主任纵容其子强收保护费",
        at=t0 - timedelta(hours=2),
    )
    lead_id = lead.lead_id
    at = Handled(lead_id, t0).at

    await record(
        js,
        registered(lead, at()),
        LeadTransferred(
            lead_id=lead_id,
            from_unit=OFFICE,
            to_unit=POLICE,
            reason="涉嫌寻衅滋事",
            occurred_at=at(hours=1),
            actor=OFFICE_ACTOR,
        ),
        TransferAccepted(lead_id=lead_id, unit=POLICE, occurred_at=at(hours=2), actor=POLICE_ACTOR),
        ResponsibilityAssigned(
            lead_id=lead_id,
            unit=POLICE,
            assignee="police",
            assignee_name="王警官",
            deadline=at(days=10),
            occurred_at=at(hours=3),
            actor=POLICE_ACTOR,
        ),
        DeadlineExtended(
            lead_id=lead_id,
            deadline=at(days=20),
            reason="需调取银行流水",
            occurred_at=at(days=4),
            actor=POLICE_ACTOR,
        ),
        LeadTransferred(
            lead_id=lead_id,
            from_unit=POLICE,
            to_unit=JUDICIAL,
            reason="属民间纠纷，移交司法所调解",
            occurred_at=at(days=8),
            actor=POLICE_ACTOR,
        ),
        TransferAccepted(
            lead_id=lead_id, unit=JUDICIAL, occurred_at=at(days=8, hours=0.5), actor=JUDICIAL_ACTOR
        ),
        ResponsibilityAssigned(
            lead_id=lead_id,
            unit=JUDICIAL,
            assignee="judicial",
            assignee_name="李调解员",
            deadline=at(days=30),
            occurred_at=at(days=8, hours=1),
            actor=JUDICIAL_ACTOR,
        ),
    )
    screener_v01 = Actor(role=Role.SCREENER, unit="shd-v01", user="screener.v01")
    screener_v02 = Actor(role=Role.SCREENER, unit="shd-v02", user="screener.v02")
    for view in (
        viewed(lead_id, POLICE_ACTOR, at(days=1)),  # the police held it: an insider
        viewed(lead_id, screener_v02, at(days=5)),  # an outsider, 72 h before the next transfer
        viewed(lead_id, screener_v01, at(days=8, hours=-1)),  # an outsider, 1 h before it
    ):
        await ledger_audit(js).append(view)
    return Handled(lead_id, t0)


async def test_the_trace_names_who_held_the_lead_when_and_by_whose_assignment(
    streams: JetStreamContext, oversight_on_each_database: OversightService
) -> None:
    js, oversight = streams, oversight_on_each_database
    lead = await handled_and_read(js)
    at = lead.at
    await oversight_caught_up(js)

    trace = await get(oversight.http, f"/v1/oversight/leads/{lead.lead_id}/responsibility-trace")
    assert [
        (
            p["kind"],
            p["unit"],
            p["person"],
            p["person_name"],
            parse(p["start"]),
            parse(p["end"]),
            parse(p["deadline"]),
            p["assigned_by"],
        )
        for p in trace
    ] == [
        ("unit", OFFICE, None, None, at(), at(hours=1), None, "registrar"),
        ("unit", POLICE, None, None, at(hours=1), at(days=8), None, "office"),
        ("person", POLICE, "police", "王警官", at(hours=3), at(days=8), at(days=20), "police"),
        ("unit", JUDICIAL, None, None, at(days=8), None, None, "police"),
        (
            "person",
            JUDICIAL,
            "judicial",
            "李调解员",
            at(days=8, hours=1),
            None,
            at(days=30),
            "judicial",
        ),
    ]


async def test_the_access_log_flags_outsiders_and_records_the_committees_own_reads(
    streams: JetStreamContext, oversight_on_each_database: OversightService
) -> None:
    js, oversight = streams, oversight_on_each_database
    lead = await handled_and_read(js)
    lead_id, at = lead.lead_id, lead.at

    # The committee reads its case: that read is recorded like any other.
    case = await case_of(oversight.http, lead_id)
    await get(oversight.http, f"/v1/oversight/cases/{case['case_id']}", purpose="审查保护伞线索")
    [own_read] = await events_on(js, Stream.AUDIT, f"audit.oversight.lead.{lead_id}.LeadViewed")
    assert isinstance(own_read, LeadViewed)
    assert (own_read.service, own_read.purpose, own_read.actor) == (
        "oversight",
        "审查保护伞线索",
        Actor(role=Role.DISCIPLINE, unit=DISCIPLINE, user="discipline"),
    )
    await oversight_caught_up(js)

    log = await get(oversight.http, "/v1/oversight/access-log", lead_id=lead_id)
    by_reader = {(e["user"], e["service"], parse(e["at"])): e["outsider"] for e in log}
    assert by_reader[("police", "ledger", at(days=1))] is False
    assert by_reader[("screener.v02", "ledger", at(days=5))] is True
    assert by_reader[("screener.v01", "ledger", at(days=8, hours=-1))] is True
    assert "审查保护伞线索" in [e["purpose"] for e in log if e["service"] == "oversight"]
    outsiders = await get(
        oversight.http, "/v1/oversight/access-log", lead_id=lead_id, outsiders_only=True
    )
    assert {"screener.v01", "screener.v02"} <= {e["user"] for e in outsiders}
    assert "police" not in {e["user"] for e in outsiders}


async def test_the_leak_risk_report_lists_outsiders_reads_shortly_before_the_lead_moved(
    streams: JetStreamContext, oversight_on_each_database: OversightService
) -> None:
    js, oversight = streams, oversight_on_each_database
    lead = await handled_and_read(js)
    lead_id, at = lead.lead_id, lead.at
    await oversight_caught_up(js)

    def reads_before(report: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (
                r["viewer"],
                parse(r["viewed_at"]),
                r["moment"],
                parse(r["moment_at"]),
                r["hours_before"],
            )
            for r in report
            if r["lead_id"] == lead_id
        ]

    within_two_days = await get(oversight.http, "/v1/oversight/leak-risk", hours=48)
    assert reads_before(within_two_days) == [
        ("screener.v01", at(days=8, hours=-1), "LeadTransferred", at(days=8), 1.0),
        ("screener.v01", at(days=8, hours=-1), "ResponsibilityAssigned", at(days=8, hours=1), 2.0),
    ]
    within_four_days = await get(oversight.http, "/v1/oversight/leak-risk", hours=96)
    assert ("screener.v02", at(days=5), "LeadTransferred", at(days=8), 72.0) in reads_before(
        within_four_days
    )
