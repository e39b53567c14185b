"""The ledger's rules for closing a lead, as given events -> decision -> event or refusal:
answering the reporter (反馈), archiving (归档), reopening for a look-back review (回头看), the
discipline committee's outcome recorded as the lead's result, and missed deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.errors import NotPermitted
from common.events import SYSTEM_ACTOR, Actor, Event
from common.vocabulary import Conclusion, LeadStatus
from ledger.domain import lead as rules
from tests.unit.rules_support import (
    COMMITTEE,
    DEADLINE,
    JUDICIAL,
    LEAD,
    OFFICE,
    POLICE,
    accepted,
    answered,
    archived,
    assigned,
    breaks_rule,
    concluded,
    extended,
    missed,
    registered,
    reopened,
    transferred,
)

DONE = (assigned(), concluded())
ANSWERED = (*DONE, answered())
ARCHIVED = (*ANSWERED, archived())


def given(*events: Event) -> rules.LedgerLead:
    return rules.fold([registered(), *events])


# --- feedback (反馈) --------------------------------------------------------------------


def test_the_office_answers_the_reporter_after_the_result() -> None:
    event = rules.give_feedback(given(*DONE), "已查实并处理", "receipt", OFFICE)
    assert (event.lead_id, event.text, event.method) == (LEAD, "已查实并处理", "receipt")
    lead = rules.evolve(given(*DONE), event)
    assert lead.status is LeadStatus.ANSWERED
    assert lead.answered_since_result


def test_the_unit_holding_the_lead_may_answer_too() -> None:
    lead = given(transferred("shd-police"), accepted(POLICE), assigned(by=POLICE))
    assert rules.give_feedback(lead, "正在核查", "phone", POLICE).method == "phone"


def test_an_answer_before_the_result_leaves_the_lead_where_it_is() -> None:
    lead = given(assigned())
    event = rules.give_feedback(lead, "已受理，正在核查", "receipt", OFFICE)
    assert rules.evolve(lead, event) == lead


@pytest.mark.parametrize(
    ("history", "actor"),
    [((), POLICE), ((transferred("shd-police"),), POLICE), ((), JUDICIAL)],
    ids=["bystander", "not-yet-accepted", "other-unit"],
)
def test_only_the_holder_or_the_filing_office_answers(
    history: tuple[Event, ...], actor: Actor
) -> None:
    with pytest.raises(NotPermitted, match="holding the lead or the office that filed it"):
        rules.give_feedback(given(*history), "答复", "receipt", actor)


def test_an_archived_lead_is_not_answered_again() -> None:
    with breaks_rule("archived: feedback", "已归档，不能反馈"):
        rules.give_feedback(given(*ARCHIVED), "补充答复", "receipt", OFFICE)


# --- archiving (归档) -------------------------------------------------------------------


def test_the_filing_office_archives_a_concluded_and_answered_lead() -> None:
    event = rules.archive(given(*ANSWERED), OFFICE)
    assert (event.lead_id, event.actor) == (LEAD, OFFICE)
    lead = rules.evolve(given(*ANSWERED), event)
    assert (lead.status, lead.archived) == (LeadStatus.ARCHIVED, True)


@pytest.mark.parametrize(
    "history", [(), (assigned(),), (assigned(), answered())], ids=["new", "assigned", "answered"]
)
def test_a_lead_without_a_result_is_not_archived(history: tuple[Event, ...]) -> None:
    with breaks_rule("archived only after it is concluded", "办结后才能归档"):
        rules.archive(given(*history), OFFICE)


def test_a_result_the_reporter_was_not_told_is_not_archived() -> None:
    with breaks_rule("has not been answered since the result", "尚未向举报人反馈"):
        rules.archive(given(*DONE), OFFICE)


def test_an_answer_given_before_the_result_does_not_count_for_archiving() -> None:
    with breaks_rule("has not been answered since the result", "请先反馈"):
        rules.archive(given(assigned(), answered(), concluded()), OFFICE)


def test_only_the_filing_office_archives() -> None:
    lead = given(
        transferred("shd-police"),
        accepted(POLICE),
        assigned(by=POLICE),
        concluded(by=POLICE),
        answered(by=POLICE),
    )
    with pytest.raises(NotPermitted, match="office that filed the lead archives it"):
        rules.archive(lead, POLICE)
    assert rules.archive(lead, OFFICE).actor == OFFICE


def test_an_archived_lead_is_not_archived_twice() -> None:
    with breaks_rule("archived: archiving again", "不能重复归档"):
        rules.archive(given(*ARCHIVED), OFFICE)


# --- reopening (回头看) -----------------------------------------------------------------


@pytest.mark.parametrize("history", [DONE, ARCHIVED], ids=["concluded", "archived"])
def test_the_filing_office_reopens_a_concluded_or_archived_lead(
    history: tuple[Event, ...],
) -> None:
    event = rules.reopen(given(*history), "回头看", OFFICE)
    assert (event.lead_id, event.reason) == (LEAD, "回头看")
    lead = rules.evolve(given(*history), event)
    assert lead.status is LeadStatus.REOPENED
    assert (lead.archived, lead.concluded, lead.result) == (False, False, None)


@pytest.mark.parametrize(
    "history",
    [(), (assigned(),), (*ARCHIVED, reopened())],
    ids=["new", "assigned", "reopened-already"],
)
def test_a_lead_still_being_handled_is_not_reopened(history: tuple[Event, ...]) -> None:
    with breaks_rule("only a concluded or archived lead can be reopened", "回头看"):
        rules.reopen(given(*history), "回头看", OFFICE)


def test_only_the_filing_office_reopens() -> None:
    with pytest.raises(NotPermitted, match="office that filed the lead reopens it"):
        rules.reopen(given(*ARCHIVED), "回头看", POLICE)


def test_a_reopened_lead_is_answered_again_before_it_is_archived_again() -> None:
    lead = given(*ARCHIVED, reopened(), concluded(Conclusion.PARTLY_SUBSTANTIATED))
    with breaks_rule("has not been answered since the result", "请先反馈"):
        rules.archive(lead, OFFICE)
    lead = rules.evolve(lead, rules.give_feedback(lead, "回头看结果", "receipt", OFFICE))
    assert rules.archive(lead, OFFICE).lead_id == LEAD


# --- the discipline committee's outcome (a directive) ------------------------------------


@pytest.mark.parametrize(
    "history",
    [(transferred("shd-discipline"),), (transferred("shd-discipline"), accepted(COMMITTEE))],
    ids=["waiting-for-the-committee", "held-by-the-committee"],
)
def test_the_committees_outcome_becomes_the_leads_result(history: tuple[Event, ...]) -> None:
    filed = registered()
    lead = rules.fold([filed, *history])
    event = rules.record_discipline_outcome(
        lead, Conclusion.SUBSTANTIATED, "shd-discipline", SYSTEM_ACTOR
    )
    assert event is not None
    assert (event.lead_id, event.result) == (LEAD, Conclusion.SUBSTANTIATED)
    assert "纪委" in event.summary
    assert event.causation_id == filed.event_id
    after = rules.evolve(lead, event)
    assert (after.status, after.result) == (LeadStatus.CONCLUDED, Conclusion.SUBSTANTIATED)


@pytest.mark.parametrize(
    "history",
    [
        (),
        (transferred("shd-police"), accepted(POLICE)),
        (transferred("shd-discipline"), concluded(by=COMMITTEE)),
        (transferred("shd-discipline"), accepted(COMMITTEE), *ARCHIVED),
    ],
    ids=["never-handed-over", "with-the-police", "concluded-already", "archived"],
)
def test_an_outcome_for_a_lead_not_open_with_the_committee_records_nothing(
    history: tuple[Event, ...],
) -> None:
    lead = given(*history)
    assert (
        rules.record_discipline_outcome(
            lead, Conclusion.UNSUBSTANTIATED, "shd-discipline", SYSTEM_ACTOR
        )
        is None
    )


# --- missed deadlines -------------------------------------------------------------------

# The deadline is the end of 10 March in the township: 15:59:59 UTC.
JUST_BEFORE = datetime(2026, 3, 10, 15, 59, 58, tzinfo=UTC)
MIDNIGHT_IN_CHINA = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


def test_a_deadline_is_missed_once_the_day_is_over_in_china() -> None:
    lead = given(assigned("wang"))
    assert rules.deadline_missed(lead, JUST_BEFORE, SYSTEM_ACTOR) is None
    event = rules.deadline_missed(lead, MIDNIGHT_IN_CHINA, SYSTEM_ACTOR)
    assert event is not None
    assert (event.unit, event.assignee, event.deadline) == ("shd-office", "wang", DEADLINE)


def test_a_missed_deadline_is_told_once() -> None:
    lead = given(assigned(), missed(DEADLINE))
    assert rules.deadline_missed(lead, MIDNIGHT_IN_CHINA + timedelta(days=3), SYSTEM_ACTOR) is None


def test_an_extended_deadline_is_missed_in_its_turn() -> None:
    later = DEADLINE + timedelta(days=5)
    lead = given(assigned(), missed(DEADLINE), extended(later))
    assert rules.deadline_missed(lead, MIDNIGHT_IN_CHINA, SYSTEM_ACTOR) is None
    event = rules.deadline_missed(lead, later + timedelta(seconds=1), SYSTEM_ACTOR)
    assert event is not None
    assert event.deadline == later


def test_the_deadline_is_missed_by_the_unit_holding_the_lead() -> None:
    lead = given(transferred("shd-police"), accepted(POLICE), assigned("li", by=POLICE))
    event = rules.deadline_missed(lead, MIDNIGHT_IN_CHINA, SYSTEM_ACTOR)
    assert event is not None
    assert (event.unit, event.assignee) == ("shd-police", "li")


@pytest.mark.parametrize(
    "history",
    [(), DONE, ARCHIVED, (assigned(), transferred("shd-police"))],
    ids=["no-deadline", "concluded", "archived", "transferred-away"],
)
def test_no_deadline_is_missed_without_a_running_one(history: tuple[Event, ...]) -> None:
    assert rules.deadline_missed(given(*history), MIDNIGHT_IN_CHINA, SYSTEM_ACTOR) is None


def test_a_deadline_met_before_the_conclusion_is_not_missed_after_a_reopening() -> None:
    met_in_time = concluded().model_copy(update={"occurred_at": datetime(2026, 3, 5, tzinfo=UTC)})
    lead = given(assigned(), met_in_time, answered(), archived(), reopened())
    a_month_later = MIDNIGHT_IN_CHINA + timedelta(days=30)
    assert rules.deadline_missed(lead, a_month_later, SYSTEM_ACTOR) is None
    # The review is assigned anew, with a deadline of its own.
    assert lead.deadline is None
