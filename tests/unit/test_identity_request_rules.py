"""The two-person rule over a reporter's identity, as events -> decision -> event or
refusal: who may ask, who may decide, and when the asker may read (once, in time)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.errors import NotPermitted
from common.events import Actor, Event, Role, utc_now
from common.events.custody import ReasonCategory
from intake.domain import custody as rules
from intake.domain import lead as lead_rules
from tests.unit.rules_support import CLERK, CUSTODIAN, POLICE, reported, shredded

OTHER_CUSTODIAN = Actor(role=Role.CUSTODIAN, unit="shd-discipline", user="custodian.2")
NOW = utc_now()


def history(*more: Event) -> tuple[lead_rules.IntakeLead, list[Event]]:
    events: list[Event] = [reported(named=True), *more]
    return lead_rules.fold(events), events


def asked(by: Actor = POLICE) -> Event:
    lead, _ = history()
    return rules.ask(lead, "r1", ReasonCategory.PROTECT, "证人受到威胁", by)


def request(*events: Event) -> rules.AccessRequest:
    return rules.requests_of(events)["r1"]


def test_only_those_handling_leads_may_ask() -> None:
    lead, _ = history()
    with pytest.raises(rules.MayNotAsk):
        rules.ask(lead, "r1", ReasonCategory.VERIFY, "核实", CLERK)
    assert request(asked()).status == "pending"


def test_the_asker_never_decides_and_a_decided_request_is_not_decided_again() -> None:
    ask = asked(CUSTODIAN)
    lead, _ = history(ask)
    with pytest.raises(rules.OwnRequest):
        rules.approve(lead, request(ask), CUSTODIAN, NOW, 1)
    with pytest.raises(NotPermitted):
        rules.approve(lead, request(ask), POLICE, NOW, 1)
    refusal = rules.refuse(lead, request(ask), OTHER_CUSTODIAN, "理由不足")
    with pytest.raises(rules.NotDecidable):
        rules.approve(lead, request(ask, refusal), OTHER_CUSTODIAN, NOW, 1)


def test_the_asker_reads_once_after_approval_and_before_it_lapses() -> None:
    ask = asked()
    lead, _ = history(ask)
    with pytest.raises(rules.NotReadable):
        rules.read(lead, request(ask), POLICE, NOW)
    approval = rules.approve(lead, request(ask), CUSTODIAN, NOW, 2)
    with pytest.raises(rules.RequestNotFound):
        rules.read(lead, request(ask, approval), OTHER_CUSTODIAN, NOW)
    with pytest.raises(rules.NotReadable):
        rules.read(lead, request(ask, approval), POLICE, NOW + timedelta(hours=2))
    read = rules.read(lead, request(ask, approval), POLICE, NOW)
    assert (read.request_id, read.reason_category, read.actor) == ("r1", "protect", POLICE)
    with pytest.raises(rules.NotReadable):
        rules.read(lead, request(ask, approval, read), POLICE, NOW)


def test_a_shredded_identity_is_gone_even_with_an_approval() -> None:
    ask = asked()
    lead, _ = history(ask)
    approval = rules.approve(lead, request(ask), CUSTODIAN, NOW, 2)
    gone, _ = history(ask, approval, shredded())
    with pytest.raises(lead_rules.IdentityAlreadyShredded):
        rules.read(gone, request(ask, approval), POLICE, NOW)


def test_a_category_this_code_does_not_know_reads_as_a_check() -> None:
    assert rules.reason_label("statement") == rules.REASON_LABELS[ReasonCategory.STATEMENT]
    assert rules.reason_label(None) == rules.UNCATEGORISED
    assert rules.reason_label("newer-category") == rules.UNCATEGORISED
