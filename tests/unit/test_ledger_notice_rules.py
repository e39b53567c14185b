"""The rules of a notice (通报) and of the facts it cites: who drafts and issues, a draft
changes until it is issued or withdrawn and never after; which facts count against a unit,
once each, in the period's days on the township's clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from common.errors import NotFound, NotPermitted, RuleViolation, Settled
from common.events import Actor, Role
from common.events.notices import MOST_CITED, NoticeDrafted, NoticeFacts, NoticeIssued
from common.times import CHINA
from ledger.domain import notice as rules
from ledger.domain.notice import NoticeStatus
from ledger.domain.notice_facts import (
    LATE_ANSWER,
    OVERDUE,
    RETURN,
    Fact,
    answered_late,
    fact_key,
    gather,
    period_bounds,
)

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
CLERK = Actor(role=Role.CLERK, unit="shd-office", user="clerk")
POLICE = Actor(role=Role.POLICE, unit="shd-police", user="police")
FACTS = NoticeFacts(overdue=2, late_answers=1, returns=0, lead_ids=("L1", "L2"))
NOTICE_ID = "a" * 32


def drafted(actor: Actor = CLERK) -> NoticeDrafted:
    return rules.draft(
        NOTICE_ID,
        "criticism",
        "shd-police",
        date(2026, 11, 1),
        date(2026, 11, 30),
        "通报批评",
        "正文",
        FACTS,
        actor,
    )


def test_the_office_and_its_clerks_draft_and_nobody_else() -> None:
    assert drafted(OFFICE).facts == FACTS
    assert drafted(CLERK).actor == CLERK
    with pytest.raises(NotPermitted, match="only clerk, office may draft"):
        drafted(POLICE)


def test_a_draft_is_revised_then_issued_as_it_stands_and_is_final() -> None:
    notice = rules.fold([drafted()])
    revised = rules.revise(notice, "criticism", "新标题", "新正文", CLERK)
    notice = rules.evolve(notice, revised)
    assert (notice.title, notice.body, notice.status) == ("新标题", "新正文", NoticeStatus.DRAFT)
    with pytest.raises(RuleViolation, match="changes nothing"):
        rules.revise(notice, "criticism", "新标题", "新正文", CLERK)

    with pytest.raises(NotPermitted, match="only office may issue"):
        rules.issue(notice, CLERK)
    issued = rules.issue(notice, OFFICE)
    assert isinstance(issued, NoticeIssued)
    assert (issued.title, issued.body, issued.unit, issued.facts) == (
        "新标题",
        "新正文",
        "shd-police",
        FACTS,
    )
    assert issued.causation_id == notice.drafted.event_id
    final = rules.evolve(notice, issued)
    assert final.status is NoticeStatus.ISSUED
    for change in (
        lambda: rules.revise(final, "praise", "t", "b", OFFICE),
        lambda: rules.issue(final, OFFICE),
        lambda: rules.withdraw(final, "why", OFFICE),
    ):
        with pytest.raises(Settled, match="issued"):
            change()


def test_a_withdrawn_draft_is_final_too() -> None:
    notice = rules.fold([drafted()])
    gone = rules.evolve(notice, rules.withdraw(notice, "对象有误", CLERK))
    assert gone.status is NoticeStatus.WITHDRAWN
    with pytest.raises(Settled, match="withdrawn"):
        rules.issue(gone, OFFICE)


def test_no_notice_without_its_draft_and_no_period_backwards_or_too_long() -> None:
    with pytest.raises(NotFound):
        rules.fold([])
    with pytest.raises(RuleViolation) as backwards:
        rules.check_period(date(2026, 11, 30), date(2026, 11, 1))
    assert backwards.value.field == "to"
    rules.check_period(date(2026, 1, 1), date(2026, 12, 31))  # a year
    with pytest.raises(RuleViolation, match="at most 366 days"):
        rules.check_period(date(2025, 1, 1), date(2026, 1, 2))


def test_a_notice_event_is_bounded_and_stored_on_the_notices_subjects() -> None:
    event = drafted()
    assert (event.subject_kind, event.subject_id, event.lead_id) == ("notice", NOTICE_ID, None)
    with pytest.raises(ValidationError):
        NoticeFacts(lead_ids=("L" * 65,))
    with pytest.raises(ValidationError):
        NoticeFacts(lead_ids=("a.b",))
    with pytest.raises(ValidationError):
        NoticeFacts(lead_ids=tuple(f"L{n}" for n in range(MOST_CITED + 1)))
    with pytest.raises(ValidationError):
        NoticeFacts(overdue=-1)


def test_an_answer_is_late_only_after_a_deadline_in_force() -> None:
    deadline = datetime(2026, 11, 10, 10, tzinfo=UTC)
    assert answered_late(deadline + timedelta(seconds=1), deadline)
    assert not answered_late(deadline, deadline)
    assert not answered_late(deadline + timedelta(days=30), None)


def test_a_fault_counts_once_per_lead_and_deadline_a_return_once_per_event() -> None:
    assert fact_key(OVERDUE, "L1", "d1") == fact_key(OVERDUE, "L1", "d1")
    assert fact_key(OVERDUE, "L1", "d1") != fact_key(LATE_ANSWER, "L1", "d1")
    assert fact_key(RETURN, "L1", "e1") != fact_key(RETURN, "L1", "e2")


def test_a_period_is_whole_days_in_china_time() -> None:
    start, end = period_bounds(date(2026, 11, 1), date(2026, 11, 30))
    assert start == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert start.astimezone(CHINA).date() == date(2026, 11, 1)


def test_facts_are_counted_and_their_leads_cited_once_in_the_order_met() -> None:
    at = datetime(2026, 11, 5, tzinfo=UTC)
    gathered = gather(
        [
            Fact(OVERDUE, "L2", at),
            Fact(LATE_ANSWER, "L2", at),
            Fact(RETURN, "L1", at),
            Fact(OVERDUE, "L3", at),
        ]
    )
    assert gathered == NoticeFacts(
        overdue=2, late_answers=1, returns=1, lead_ids=("L2", "L1", "L3")
    )
    many = gather(Fact(OVERDUE, f"L{n}", at) for n in range(MOST_CITED + 5))
    assert many.overdue == MOST_CITED + 5
    assert len(many.lead_ids) == MOST_CITED
