"""Repeated reads in the access log and the leak-risk report: a person's reads of one lead
within minutes of the first of them are one view, with how many and the first and the last.
Every read is still recorded on AUDIT; only the reports group them, so ten refreshes by an
outsider before a lead moved weigh as one view, not ten.

The lead's ledger history is scripted on LEDGER and its reads in the ledger on AUDIT, with
the times the test chooses; the committee's own reads go through its API. Each test runs on
SQLite, then on PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from common.events import Actor, Role, utc_now
from common.subjects import Stream
from common.vocabulary import Flag
from tests.conftest import NatsTarget
from tests.support.apps import parse
from tests.support.oversight import (
    POLICE_ACTOR,
    OversightService,
    case_of,
    get,
    handed_over,
    ledger_audit,
    oversight_caught_up,
    oversight_settings,
    read_in_the_ledger,
    record,
    registered,
    report,
    serving_oversight,
)
from tests.support.streams import count_on

pytestmark = pytest.mark.integration

SCREENER_V01 = Actor(role=Role.SCREENER, unit="shd-v01", user="screener.v01")
SCREENER_V02 = Actor(role=Role.SCREENER, unit="shd-v02", user="screener.v02")


@dataclass(frozen=True)
class Read:
    """A lead handed to the police a day ago (its key moment), read over and over."""

    lead_id: str
    moved: datetime  # when the office handed it to the police

    def before(self, minutes: float) -> datetime:
        return self.moved - timedelta(minutes=minutes)


async def read_over_and_over(js: JetStreamContext, oversight: OversightService) -> Read:
    """Before the transfer: screener.v01 refreshes the lead ten times in four and a half
    minutes and reads it again twenty minutes after the first; screener.v02 reads it once.
    After it, the police refresh it ten times. The committee reads its case ten times."""
    moved = (utc_now() - timedelta(days=1)).replace(microsecond=0)
    lead = await report(
        js,
        flags=(Flag.INVOLVES_OFFICIAL,),
        summary="村主任为赌场通风报信",
        at=moved - timedelta(days=1),
    )
    await record(
        js,
        registered(lead, moved - timedelta(hours=20)),
        handed_over(lead, moved, reason="涉嫌开设赌场"),
    )
    at = Read(lead.lead_id, moved).before
    reads = [
        *(read_in_the_ledger(lead.lead_id, SCREENER_V01, at(60 - i * 0.5)) for i in range(10)),
        read_in_the_ledger(lead.lead_id, SCREENER_V01, at(40)),
        read_in_the_ledger(lead.lead_id, SCREENER_V02, at(30)),
        *(read_in_the_ledger(lead.lead_id, POLICE_ACTOR, at(-60 - i)) for i in range(10)),
    ]
    for event in reads:
        await ledger_audit(js).append(event)
    case = await case_of(oversight.http, lead.lead_id)
    for _ in range(10):
        await get(oversight.http, f"/v1/oversight/cases/{case['case_id']}", purpose="审查")
    await oversight_caught_up(js)
    return Read(lead.lead_id, moved)


def views_of(log: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            e["user"],
            e["service"],
            e["count"],
            parse(e["first_at"]),
            parse(e["last_at"]),
            e["outsider"],
        )
        for e in log
        if e["service"] == "ledger"
    ]


async def test_repeated_reads_are_one_view_with_their_count_and_every_read_is_still_recorded(
    streams: JetStreamContext, oversight_on_each_database: OversightService
) -> None:
    js, oversight = streams, oversight_on_each_database
    read = await read_over_and_over(js, oversight)
    lead_id, at = read.lead_id, read.before

    # Nothing is dropped: each of the committee's reads is on AUDIT.
    own = f"audit.oversight.lead.{lead_id}.LeadViewed"
    assert await count_on(js, Stream.AUDIT, own) == 10
    assert await count_on(js, Stream.AUDIT, f"audit.ledger.lead.{lead_id}.LeadViewed") == 22

    log = await get(oversight.http, "/v1/oversight/access-log", lead_id=lead_id)
    # The latest view first: the police's, then screener.v01's second, screener.v02's, and
    # screener.v01's ten refreshes.
    assert views_of(log) == [
        ("police", "ledger", 10, at(-60), at(-69), False),
        ("screener.v02", "ledger", 1, at(30), at(30), True),
        ("screener.v01", "ledger", 1, at(40), at(40), True),
        ("screener.v01", "ledger", 10, at(60), at(55.5), True),
    ]
    [committee] = [e for e in log if e["service"] == "oversight"]
    assert (committee["user"], committee["count"], committee["purposes"]) == (
        "discipline",
        10,
        ["审查"],
    )
    assert committee["outsider"] is False
    assert parse(committee["at"]) == parse(committee["first_at"])

    outsiders = await get(
        oversight.http, "/v1/oversight/access-log", lead_id=lead_id, outsiders_only=True
    )
    assert [(e["user"], e["count"]) for e in outsiders] == [
        ("screener.v02", 1),
        ("screener.v01", 1),
        ("screener.v01", 10),
    ]


async def test_the_leak_risk_report_counts_views_not_refreshes(
    streams: JetStreamContext, oversight_on_each_database: OversightService
) -> None:
    js, oversight = streams, oversight_on_each_database
    read = await read_over_and_over(js, oversight)
    lead_id, at = read.lead_id, read.before

    report = [
        r
        for r in await get(oversight.http, "/v1/oversight/leak-risk", hours=48)
        if r["lead_id"] == lead_id
    ]
    # Before the transfer: three views by outsiders (the police read after it, and are
    # insiders), each once, however often refreshed; and the same three before the case
    # opened (the committee opened it when the report reached it, today).
    before_the_transfer = [
        (r["viewer"], parse(r["viewed_at"]), r["count"], parse(r["first_at"]), r["hours_before"])
        for r in report
        if r["moment"] == "LeadTransferred"
    ]
    assert before_the_transfer == [
        ("screener.v02", at(30), 1, at(30), 0.5),
        ("screener.v01", at(40), 1, at(40), 0.67),
        ("screener.v01", at(55.5), 10, at(60), 0.93),
    ]
    assert sorted(r["moment"] for r in report) == ["CaseOpened"] * 3 + ["LeadTransferred"] * 3
    assert sum(r["count"] for r in report if r["moment"] == "LeadTransferred") == 12

    # A window that ends before the last refresh still finds the view, by a read within it.
    within_the_hour = [
        (r["viewer"], parse(r["viewed_at"]), r["count"])
        for r in await get(oversight.http, "/v1/oversight/leak-risk", hours=0.95)
        if r["lead_id"] == lead_id
    ]
    assert within_the_hour == [
        ("screener.v02", at(30), 1),
        ("screener.v01", at(40), 1),
        ("screener.v01", at(55.5), 10),
    ]


async def test_how_long_a_view_lasts_is_a_setting(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    js = streams
    settings = oversight_settings(
        nats_target, f"sqlite:///{tmp_path / 'oversight.db'}", tmp_path, view_minutes=30
    )
    async with serving_oversight(settings) as oversight:
        read = await read_over_and_over(js, oversight)
        log = await get(oversight.http, "/v1/oversight/access-log", lead_id=read.lead_id)
    # Within half an hour of the first, the read twenty minutes later joins the view.
    assert [(e["user"], e["count"]) for e in log if e["service"] == "ledger"] == [
        ("police", 10),
        ("screener.v02", 1),
        ("screener.v01", 11),
    ]
