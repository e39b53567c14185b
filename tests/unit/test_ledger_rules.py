"""The ledger's rules for handling a lead, as given events -> decision -> event or refusal:
the state folded from a lead's events, handing it between units (移交, 接收, 退回), naming the
responsible person and the deadline (责任到人), verification (核查) and conclusion (办结).
Feedback, archiving, reopening, the committee's outcome and missed deadlines are in
test_ledger_closing_rules.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.errors import NotFound, NotPermitted
from common.events import Actor, Event
from common.events.catalogue import Attachment
from common.times import CHINA
from common.vocabulary import Conclusion, LeadStatus
from ledger.domain import lead as rules
from tests.unit.rules_support import (
    COMMITTEE,
    DEADLINE,
    JUDICIAL,
    LEAD,
    NOW,
    OFFICE,
    POLICE,
    accepted,
    answered,
    archived,
    assigned,
    breaks_rule,
    concluded,
    listed,
    registered,
    reopened,
    returned,
    transferred,
    verified,
)


def given(*events: Event) -> rules.LedgerLead:
    return rules.fold([registered(), *events])


# --- the state folded from the events ---------------------------------------------------


def test_a_lead_without_a_registration_is_not_in_the_ledger() -> None:
    with pytest.raises(NotFound, match="not in the ledger"):
        rules.fold([transferred()])


def test_a_registered_lead_is_held_by_the_office_that_filed_it() -> None:
    lead = given()
    assert (lead.lead_id, lead.status, lead.holder) == (LEAD, LeadStatus.REGISTERED, "shd-office")
    assert lead.pending_to is None
    assert not lead.concluded


def test_a_transfer_waits_for_the_receiving_unit_and_drops_the_current_assignment() -> None:
    lead = given(assigned(), transferred("shd-police"))
    assert (lead.status, lead.holder, lead.pending_to) == (
        LeadStatus.TRANSFERRED,
        "shd-office",
        "shd-police",
    )
    assert (lead.assignee, lead.deadline) == (None, None)


def test_an_accepted_transfer_makes_the_receiving_unit_the_holder() -> None:
    lead = given(transferred("shd-police"), accepted(POLICE))
    assert (lead.status, lead.holder, lead.pending_to) == (LeadStatus.ACCEPTED, "shd-police", None)


def test_a_returned_transfer_gives_the_lead_back_to_the_sender() -> None:
    lead = given(transferred("shd-police"), returned(POLICE, to_unit="shd-office"))
    assert (lead.status, lead.holder, lead.pending_to) == (LeadStatus.RETURNED, "shd-office", None)


def test_listed_supervision_is_an_order_to_the_unit_not_a_change_of_the_lead() -> None:
    before = given(assigned())
    assert rules.evolve(before, listed()) == before


# --- transfer (移交) --------------------------------------------------------------------


def test_the_holder_transfers_the_lead_with_a_reason_in_the_leads_correlation() -> None:
    filed = registered()
    event = rules.transfer(rules.fold([filed]), "shd-police", "涉嫌违法犯罪", OFFICE)
    assert (event.lead_id, event.from_unit, event.to_unit) == (LEAD, "shd-office", "shd-police")
    assert event.reason == "涉嫌违法犯罪"
    assert event.actor == OFFICE
    assert (event.correlation_id, event.causation_id) == (filed.event_id, filed.event_id)


def test_a_returned_lead_can_be_transferred_to_another_unit() -> None:
    lead = given(transferred("shd-police"), returned(POLICE))
    event = rules.transfer(lead, "shd-judicial", "社区矫正对象", OFFICE)
    assert (event.from_unit, event.to_unit) == ("shd-office", "shd-judicial")


def test_a_unit_that_accepted_a_lead_can_hand_it_on() -> None:
    lead = given(transferred("shd-police"), accepted(POLICE))
    event = rules.transfer(lead, "shd-discipline", "涉及党员", POLICE)
    assert (event.from_unit, event.to_unit) == ("shd-police", "shd-discipline")


def test_a_lead_is_not_transferred_to_the_unit_that_holds_it() -> None:
    with breaks_rule("already held by that unit", "已在该单位"):
        rules.transfer(given(), "shd-office", "重复", OFFICE)


def test_a_lead_waiting_for_acceptance_is_not_transferred_again() -> None:
    with breaks_rule("waiting for shd-police", "正等待shd-police"):
        rules.transfer(given(transferred("shd-police")), "shd-judicial", "改派", OFFICE)


def test_only_the_holding_unit_transfers_a_lead() -> None:
    with pytest.raises(NotPermitted, match=r"holding the lead \(shd-office\).*you are shd-police"):
        rules.transfer(given(), "shd-judicial", "越权", POLICE)


def test_a_concluded_lead_is_not_transferred() -> None:
    with breaks_rule("concluded: a transfer", "已办结，不能移交"):
        rules.transfer(given(assigned(), concluded()), "shd-police", "补查", OFFICE)


def test_an_archived_lead_is_not_transferred() -> None:
    lead = given(assigned(), concluded(), answered(), archived())
    with breaks_rule("archived: a transfer", "已归档，不能移交"):
        rules.transfer(lead, "shd-police", "补查", OFFICE)


# --- accepting and returning a transfer (接收, 退回) -------------------------------------


def test_the_receiving_unit_accepts_the_lead() -> None:
    event = rules.accept(given(transferred("shd-police")), POLICE)
    assert (event.lead_id, event.unit, event.actor) == (LEAD, "shd-police", POLICE)


def test_the_receiving_unit_returns_the_lead_to_the_unit_that_sent_it() -> None:
    lead = given(transferred("shd-police"), accepted(POLICE), transferred("shd-judicial"))
    event = rules.return_transfer(lead, "不属于司法所职责", JUDICIAL)
    assert (event.unit, event.to_unit, event.reason) == (
        "shd-judicial",
        "shd-police",
        "不属于司法所职责",
    )


@pytest.mark.parametrize("actor", [OFFICE, JUDICIAL], ids=["sender", "bystander"])
def test_only_the_receiving_unit_accepts_or_returns_a_transfer(actor: Actor) -> None:
    lead = given(transferred("shd-police"))
    with pytest.raises(NotPermitted, match="handed to shd-police"):
        rules.accept(lead, actor)
    with pytest.raises(NotPermitted, match="handed to shd-police"):
        rules.return_transfer(lead, "不要", actor)


@pytest.mark.parametrize(
    "history",
    [(), (transferred(), accepted()), (transferred(), returned())],
    ids=["never-transferred", "accepted-already", "returned-already"],
)
def test_there_is_nothing_to_accept_or_return_without_a_pending_transfer(
    history: tuple[Event, ...],
) -> None:
    lead = given(*history)
    with breaks_rule("not waiting for anyone to accept it", "没有待接收的移交"):
        rules.accept(lead, POLICE)
    with breaks_rule("not waiting for anyone to accept it", "没有待接收的移交"):
        rules.return_transfer(lead, "不要", POLICE)


def test_a_lead_transferred_to_the_committee_is_accepted_by_it() -> None:
    event = rules.accept(given(transferred("shd-discipline")), COMMITTEE)
    assert event.unit == "shd-discipline"


# --- responsibility and deadline (责任到人) ----------------------------------------------


def test_the_holder_names_a_responsible_person_and_a_deadline() -> None:
    event = rules.assign(given(), "wang", "王警官", DEADLINE, "", OFFICE, NOW)
    assert (event.unit, event.assignee, event.assignee_name) == ("shd-office", "wang", "王警官")
    assert event.deadline == DEADLINE
    assert event.deadline.utcoffset() == timedelta(0)  # stored in UTC, the same moment


def test_the_unit_that_accepted_a_transfer_assigns_its_own_officer() -> None:
    lead = given(assigned(), transferred("shd-police"), accepted(POLICE))
    event = rules.assign(lead, "li", "李警官", DEADLINE, "", POLICE, NOW)
    assert (event.unit, event.assignee) == ("shd-police", "li")


def test_a_deadline_given_in_china_time_must_lie_after_now() -> None:
    ten_oclock_in_china = datetime(2026, 3, 1, 10, 0, tzinfo=CHINA)
    assert ten_oclock_in_china == NOW
    with breaks_rule("deadline must be in the future", "办理时限必须晚于现在"):
        rules.assign(given(), "wang", "王警官", ten_oclock_in_china, "", OFFICE, NOW)
    a_second_later = ten_oclock_in_china + timedelta(seconds=1)
    event = rules.assign(given(), "wang", "王警官", a_second_later, "", OFFICE, NOW)
    assert event.deadline == datetime(2026, 3, 1, 2, 0, 1, tzinfo=UTC)


def test_a_new_responsible_person_needs_a_reason() -> None:
    lead = given(assigned("wang"))
    with breaks_rule("reassignment needs a reason", "更换责任人须说明理由"):
        rules.assign(lead, "li", "李警官", DEADLINE, "", OFFICE, NOW)
    event = rules.assign(lead, "li", "李警官", DEADLINE, "王警官调离", OFFICE, NOW)
    assert (event.assignee, event.reason) == ("li", "王警官调离")


def test_a_lead_waiting_for_acceptance_is_not_assigned_by_the_sender() -> None:
    with breaks_rule("waiting for shd-police", "正等待shd-police"):
        rules.assign(given(transferred()), "wang", "王警官", DEADLINE, "", OFFICE, NOW)


def test_only_the_holding_unit_assigns() -> None:
    with pytest.raises(NotPermitted, match="shd-office"):
        rules.assign(given(), "li", "李警官", DEADLINE, "", POLICE, NOW)


def test_a_concluded_lead_is_not_assigned_until_it_is_reopened() -> None:
    with breaks_rule("concluded: an assignment", "已办结，不能指定责任人"):
        rules.assign(given(assigned(), concluded()), "li", "李", DEADLINE, "补查", OFFICE, NOW)
    lead = given(assigned(), concluded(), answered(), archived(), reopened())
    event = rules.assign(lead, "li", "李警官", DEADLINE, "回头看", OFFICE, NOW)
    assert event.assignee == "li"


def test_an_archived_lead_is_not_assigned() -> None:
    lead = given(assigned(), concluded(), answered(), archived())
    with breaks_rule("archived: an assignment", "已归档，不能指定责任人"):
        rules.assign(lead, "li", "李警官", DEADLINE, "补查", OFFICE, NOW)


def test_the_deadline_is_extended_to_a_later_one_with_a_reason() -> None:
    later = DEADLINE + timedelta(days=7)
    event = rules.extend_deadline(given(assigned()), later, "需补充调查", OFFICE, NOW)
    assert (event.deadline, event.reason) == (later, "需补充调查")
    assert rules.evolve(given(assigned()), event).deadline == later


@pytest.mark.parametrize("shift", [timedelta(0), -timedelta(days=1)], ids=["same", "earlier"])
def test_an_extension_must_move_the_deadline_later(shift: timedelta) -> None:
    with breaks_rule("later than the current one", "新的时限必须晚于原时限"):
        rules.extend_deadline(given(assigned()), DEADLINE + shift, "提前", OFFICE, NOW)


def test_a_missed_deadline_is_extended_to_one_that_can_still_be_met() -> None:
    after_it = DEADLINE + timedelta(days=5)
    with breaks_rule("must be in the future", "新的时限必须晚于现在"):
        rules.extend_deadline(
            given(assigned()), DEADLINE + timedelta(days=2), "补报延期", OFFICE, after_it
        )
    event = rules.extend_deadline(
        given(assigned()), after_it + timedelta(days=7), "补报延期", OFFICE, after_it
    )
    assert event.deadline == after_it + timedelta(days=7)


def test_there_is_no_deadline_to_extend_before_an_assignment() -> None:
    with breaks_rule("assign the lead with a deadline first", "请先指定责任人和办理时限"):
        rules.extend_deadline(given(), DEADLINE, "延期", OFFICE, NOW)


def test_a_transfer_leaves_the_receiving_unit_no_deadline_to_extend() -> None:
    lead = given(assigned(), transferred("shd-police"), accepted(POLICE))
    with breaks_rule("assign the lead with a deadline first", "请先指定责任人"):
        rules.extend_deadline(lead, DEADLINE + timedelta(days=1), "延期", POLICE, NOW)


def test_only_the_holder_extends_and_not_once_concluded() -> None:
    later = DEADLINE + timedelta(days=1)
    with pytest.raises(NotPermitted, match="shd-office"):
        rules.extend_deadline(given(assigned()), later, "延期", POLICE, NOW)
    with breaks_rule("concluded: extending the deadline", "已办结，不能延长时限"):
        rules.extend_deadline(given(assigned(), concluded()), later, "延期", OFFICE, NOW)


# --- verification (核查) and conclusion (办结) ------------------------------------------

EVIDENCE = (Attachment(name="笔录.pdf", size=1024, sha256="ab" * 32),)


def test_the_holder_records_verification_with_its_evidence() -> None:
    event = rules.record_verification(given(assigned()), "走访群众三人", EVIDENCE, OFFICE)
    assert (event.note, event.evidence) == ("走访群众三人", EVIDENCE)
    assert rules.evolve(given(assigned()), event).status is LeadStatus.VERIFYING


def test_the_holder_concludes_with_a_result() -> None:
    event = rules.conclude(
        given(assigned(), verified()), Conclusion.PARTLY_SUBSTANTIATED, "部分属实", OFFICE
    )
    assert (event.result, event.summary) == (Conclusion.PARTLY_SUBSTANTIATED, "部分属实")
    lead = rules.evolve(given(assigned()), event)
    assert (lead.status, lead.result) == (LeadStatus.CONCLUDED, Conclusion.PARTLY_SUBSTANTIATED)


@pytest.mark.parametrize(
    "history",
    [(), (assigned(), transferred("shd-police"), accepted(POLICE))],
    ids=["never-assigned", "accepted-but-not-assigned"],
)
def test_nobody_verifies_or_concludes_before_someone_is_responsible(
    history: tuple[Event, ...],
) -> None:
    lead = given(*history)
    actor = OFFICE if not history else POLICE
    with breaks_rule("assign it to a named person first", "尚未责任到人"):
        rules.record_verification(lead, "走访", (), actor)
    with breaks_rule("assign it to a named person first", "尚未责任到人"):
        rules.conclude(lead, Conclusion.UNSUBSTANTIATED, "不属实", actor)


def test_only_the_holder_verifies_or_concludes() -> None:
    lead = given(assigned())
    with pytest.raises(NotPermitted, match="you are shd-police"):
        rules.record_verification(lead, "走访", (), POLICE)
    with pytest.raises(NotPermitted, match="you are shd-police"):
        rules.conclude(lead, Conclusion.SUBSTANTIATED, "查实", POLICE)


def test_a_concluded_lead_is_not_concluded_again_nor_verified() -> None:
    lead = given(assigned(), concluded())
    with breaks_rule("concluded: concluding again", "不能重复办结"):
        rules.conclude(lead, Conclusion.UNSUBSTANTIATED, "改判", OFFICE)
    with breaks_rule("concluded: recording verification", "不能记录核查情况"):
        rules.record_verification(lead, "补充", (), OFFICE)


def test_a_reopened_lead_is_verified_and_concluded_again() -> None:
    lead = given(assigned(), concluded(), answered(), archived(), reopened())
    assert rules.record_verification(lead, "回头看走访", (), OFFICE).note == "回头看走访"
    event = rules.conclude(lead, Conclusion.SUBSTANTIATED, "回头看属实", OFFICE)
    assert event.result is Conclusion.SUBSTANTIATED
