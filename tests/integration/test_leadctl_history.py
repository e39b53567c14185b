"""`leadctl history`: an auditor reads a lead's whole chain of custody, from every stream in
the order it happened; no one else may, and the auditor's look is itself recorded."""

from __future__ import annotations

from datetime import datetime

import pytest

from common.events import Actor, Role, utc_now
from common.events.catalogue import LeadsViewed, LeadViewed, View
from common.eventstore import EventStore
from common.subjects import Service, Stream, audit_prefix
from tests.conftest import NatsTarget
from tests.support.leadctl import (
    ScriptedLedger,
    against_the_server,
    leadctl,
    on,
    printed,
    succeeded,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration


def test_history_gives_an_auditor_the_whole_chain_of_custody_of_a_lead_and_records_the_look(
    scripted_ledger: ScriptedLedger, nats_target: NatsTarget
) -> None:
    lead = scripted_ledger.walked
    as_auditor = ["--token", "token-auditor", "--users-file", scripted_ledger.users]
    as_office = ["--token", "token-office", "--users-file", scripted_ledger.users]

    looked = succeeded(leadctl(*on(nats_target), "history", lead, "--json", *as_auditor))
    refused = leadctl(*on(nats_target), "history", lead, "--json", *as_office)

    entries = printed(looked)
    assert [(e["stream"], e["event_type"]) for e in entries] == [
        ("INTAKE", "LeadReported"),
        ("LEDGER", "LeadRegistered"),
        ("AUDIT", "LeadViewed"),
        ("LEDGER", "LeadTransferred"),
        ("LEDGER", "TransferAccepted"),
        ("LEDGER", "ResponsibilityAssigned"),
        ("LEDGER", "ResponsibilityAssigned"),
        ("LEDGER", "VerificationRecorded"),
        ("OVERSIGHT", "SupervisionOpened"),
        ("DIRECTIVES", "SupervisionListed"),
    ]
    times = [datetime.fromisoformat(e["occurred_at"]) for e in entries]
    assert times == sorted(times)
    assert {e["lead_id"] for e in entries} == {lead}
    assert [e["assignee_name"] for e in entries if e["event_type"] == "ResponsibilityAssigned"] == [
        "王警官",
        "李警官",
    ]
    assert refused.exit_code != 0
    assert "history is for auditors" in refused.output

    looks = against_the_server(
        nats_target,
        lambda js: events_on(js, Stream.AUDIT, f"audit.leadctl.lead.{lead}.LeadViewed"),
    )
    assert [
        (e.actor.role, e.actor.user, e.service, e.purpose)
        for e in looks
        if isinstance(e, LeadViewed)
    ] == [(Role.AUDITOR, "auditor", "leadctl", "audit")]


def test_history_shows_each_read_of_the_lead_recorded_inside_reads_gathered_together(
    scripted_ledger: ScriptedLedger, nats_target: NatsTarget
) -> None:
    """Reads arriving while an audit append waits go together in one LeadsViewed, stored
    under no lead's subject (common.audit): the chain of custody still shows each read of
    this lead, as the LeadViewed it stands for, and no read of another lead."""
    lead = scripted_ledger.walked
    other_lead = "lead-someone-else"
    at = utc_now()
    gathered = LeadsViewed(
        service="ledger",
        views=(
            View(
                event_id="view-of-this-lead",
                lead_id=lead,
                occurred_at=at,
                actor=Actor(role=Role.POLICE, user="wang.police"),
                purpose="核实",
            ),
            View(
                event_id="view-of-another-lead",
                lead_id=other_lead,
                occurred_at=at,
                actor=Actor(role=Role.OFFICE, user="zhou.office"),
                purpose="审核",
            ),
        ),
    )
    against_the_server(
        nats_target,
        lambda js: EventStore(js, Stream.AUDIT, audit_prefix(Service.LEDGER)).append(gathered),
    )
    as_auditor = ["--token", "token-auditor", "--users-file", scripted_ledger.users]

    entries = printed(succeeded(leadctl(*on(nats_target), "history", lead, "--json", *as_auditor)))

    gathered_reads = [
        e for e in entries if e.get("event_id") in {"view-of-this-lead", "view-of-another-lead"}
    ]
    assert [
        (e["stream"], e["event_type"], e["actor"]["user"], e["purpose"], e["service"])
        for e in gathered_reads
    ] == [("AUDIT", "LeadViewed", "wang.police", "核实", "ledger")]
    assert {e["lead_id"] for e in entries} == {lead}
