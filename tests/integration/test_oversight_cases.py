"""Oversight (纪委监督) opens its cases by itself: one for each lead flagged as involving an
official or an umbrella, and one for each lead the ledger hands to the committee, umbrella
cases listed first; never one for a plain lead, and never a second one for the same lead,
however often its report or transfer arrives.

Leads come in as in production, as LeadReported on INTAKE, filed and handed over by the
running ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from common.events import Event
from common.events.catalogue import LeadReported
from common.events.envelope import new_event_id
from common.subjects import Service, Stream, durable_name
from common.vocabulary import Flag
from oversight.domain.cases import case_id_for, open_case
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import token
from tests.support.ledger import LedgerService, serving_ledger
from tests.support.oversight import (
    CLERK_ACTOR,
    DISCIPLINE,
    OVERSIGHT_CONSUMERS,
    OversightService,
    case_of,
    intake_log,
    ledger_log,
    ledger_shows,
    listed_cases,
    report,
    town_ledger_settings,
)
from tests.support.streams import drained, events_on, subjects_on

pytestmark = pytest.mark.integration

LEDGER_REGISTRAR = ((Stream.INTAKE, durable_name(Service.LEDGER, "registrar")),)


@pytest.fixture
async def ledger(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    """The ledger on its own SQLite file: it files reported leads and routes flagged ones."""
    settings = town_ledger_settings(nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    async with serving_ledger(streams, settings) as service:
        yield service


@dataclass(frozen=True)
class Reported:
    official: LeadReported  # flagged: involves an official
    handed_over: LeadReported  # plain, then handed to the committee by the office
    left_alone: LeadReported  # plain, and stays with the office
    umbrella: LeadReported  # flagged: a protective umbrella


async def four_leads(
    js: JetStreamContext, oversight: OversightService, ledger: LedgerService
) -> Reported:
    """Four leads reported, one of them handed to the committee through the ledger; returns
    once the three cases are listed (the transfer's comes through its own reactor, so the
    umbrella's case, reported after it, may be listed first)."""
    official = await report(js, flags=(Flag.INVOLVES_OFFICIAL,), summary="村支书入股地下赌场")
    await case_of(oversight.http, official.lead_id)
    handed_over = await report(js, summary="村干部亲属强揽工程")
    await ledger_shows(
        ledger.http, handed_over.lead_id, lambda lead: lead["status"] == "registered"
    )
    transfer = await ledger.http.post(
        f"/v1/ledger/leads/{handed_over.lead_id}/transfer",
        json={"to_unit": DISCIPLINE, "reason": "涉嫌公职人员违纪，移送纪委"},
        headers=token("office"),
    )
    assert transfer.status_code == 200, transfer.text
    left_alone = await report(js, summary="夜间噪音扰民")
    umbrella = await report(
        js, flags=(Flag.PROTECTIVE_UMBRELLA,), summary="派出所民警为赌场通风报信"
    )
    await case_of(oversight.http, umbrella.lead_id)
    await case_of(oversight.http, handed_over.lead_id)
    return Reported(official, handed_over, left_alone, umbrella)


async def every_report_and_transfer_handled(js: JetStreamContext) -> None:
    await wait_until(lambda: drained(js, LEDGER_REGISTRAR + OVERSIGHT_CONSUMERS))


def resent(event: Event) -> Event:
    """The same event sent again under a new id, as after a retry beyond the duplicate
    window: JetStream stores it a second time."""
    return event.model_copy(update={"event_id": new_event_id()})


async def test_flagged_leads_and_leads_handed_to_the_committee_open_one_case_each_umbrella_first(
    streams: JetStreamContext, oversight: OversightService, ledger: LedgerService
) -> None:
    js = streams
    leads = await four_leads(js, oversight, ledger)
    official, handed_over, umbrella = leads.official, leads.handed_over, leads.umbrella

    cases = await listed_cases(oversight.http)
    assert [(c["lead_id"], c["umbrella"]) for c in cases] == [
        (umbrella.lead_id, True),
        (official.lead_id, False),
        (handed_over.lead_id, False),
    ]
    assert all(c["case_id"] == case_id_for(c["lead_id"]) for c in cases)
    assert cases[1]["basis"] == "flagged: involves_official"
    assert cases[2]["basis"] == "transferred by shd-office: 涉嫌公职人员违纪，移送纪委"

    # Once every report and transfer was handled, the plain lead still has no case.
    await every_report_and_transfer_handled(js)
    left_alone = leads.left_alone.lead_id
    assert await subjects_on(js, Stream.OVERSIGHT, f"oversight.lead.{left_alone}.>") == {}


async def test_a_report_or_a_transfer_delivered_again_or_sent_again_opens_no_second_case(
    streams: JetStreamContext, oversight: OversightService, ledger: LedgerService
) -> None:
    js = streams
    leads = await four_leads(js, oversight, ledger)
    official, handed_over, umbrella = leads.official, leads.handed_over, leads.umbrella
    await every_report_and_transfer_handled(js)

    # Redelivered as they were, and sent again under new ids: still one case per lead.
    transfers = [
        e
        for lead in (handed_over, umbrella)
        for e in await events_on(js, Stream.LEDGER, f"ledger.lead.{lead.lead_id}.LeadTransferred")
    ]
    assert [t.to_unit for t in transfers] == [DISCIPLINE, DISCIPLINE]
    for reported in (official, umbrella):
        await oversight.oversight.on_reported(reported)
        await intake_log(js).append(resent(reported))
    for transferred in transfers:
        await oversight.oversight.on_transferred(transferred)
        await ledger_log(js).append(resent(transferred))
    await every_report_and_transfer_handled(js)

    assert await subjects_on(js, Stream.OVERSIGHT) == {
        f"oversight.lead.{lead.lead_id}.CaseOpened": 1 for lead in (official, handed_over, umbrella)
    }
    assert [c["lead_id"] for c in await listed_cases(oversight.http)] == [
        umbrella.lead_id,
        official.lead_id,
        handed_over.lead_id,
    ]
    # Not only JetStream's duplicate window: the committee's log itself says a case exists,
    # so deciding to open one again records nothing.
    for lead in (official, handed_over, umbrella):
        again = await oversight.oversight.decide(
            lead.lead_id,
            lambda known, cause=lead: open_case(known, "again", False, CLERK_ACTOR, cause),
        )
        assert again is None
