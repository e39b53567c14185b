"""The discipline committee's rules, as given events -> decision -> event or refusal: which
reports need a case, the lead as the committee knows it, opening a case once, supervision
(督办, 挂牌督办), escalation (提级), joint investigation of an umbrella (同步侦办),
accountability (追究责任) and the outcome sent back to the ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from common.errors import NotFound
from common.events import Event
from common.events.catalogue import LeadTransferred, UmbrellaLinked
from common.routing import CommitteeRule
from common.times import CHINA
from common.vocabulary import Category, Conclusion, Flag
from oversight.domain import cases as rules
from tests.unit.rules_support import (
    COMMITTEE,
    DEADLINE,
    LEAD,
    NOW,
    breaks_rule,
    case_opened,
    escalated,
    listed,
    outcome,
    reported,
    supervision_opened,
    transferred,
)


def lead_of(*events: Event) -> rules.OversightLead:
    return rules.fold(LEAD, events)


WITH_CASE = (case_opened(),)
WITH_UMBRELLA_CASE = (case_opened(umbrella=True),)


# --- which reports are the committee's ---------------------------------------------------


@pytest.mark.parametrize(
    ("category", "flags", "case", "umbrella"),
    [
        (Category.VILLAGE_TYRANT, (), False, False),
        (Category.VILLAGE_TYRANT, (Flag.VILLAGE_TYRANT, Flag.KEY_PERSON_OR_PLACE), False, False),
        (Category.VILLAGE_TYRANT, (Flag.INVOLVES_OFFICIAL,), True, False),
        (Category.PUBLIC_ORDER, (Flag.PROTECTIVE_UMBRELLA,), True, True),
        (Category.PROTECTIVE_UMBRELLA, (), True, True),
        (Category.DUTY_CRIME, (), True, False),
    ],
)
def test_officials_umbrellas_and_duty_crimes_need_a_case(
    category: Category, flags: tuple[Flag, ...], case: bool, umbrella: bool
) -> None:
    report = reported(category=category, flags=flags)
    assert rules.needs_case(report, CommitteeRule()) is case
    assert rules.is_umbrella(report) is umbrella


def test_a_committee_watching_fewer_reports_opens_fewer_cases_by_itself() -> None:
    officials_only = CommitteeRule(
        flags=frozenset({Flag.INVOLVES_OFFICIAL}), categories=frozenset()
    )
    assert not rules.needs_case(reported(category=Category.DUTY_CRIME), officials_only)
    assert rules.needs_case(reported(flags=(Flag.INVOLVES_OFFICIAL,)), officials_only)


# --- the lead folded from the committee's events -----------------------------------------


def test_a_lead_the_committee_never_acted_on_has_no_case() -> None:
    lead = lead_of()
    assert (lead.lead_id, lead.case, lead.rules_fired, lead.escalated, lead.outcome) == (
        LEAD,
        None,
        frozenset(),
        False,
        None,
    )


def test_the_fold_remembers_the_case_the_rules_fired_the_escalation_and_the_outcome() -> None:
    opened = case_opened()
    lead = lead_of(
        opened,
        supervision_opened(rule="overdue"),
        supervision_opened(rule=None),  # by hand: no rule fired
        escalated(),
        outcome(Conclusion.PARTLY_SUBSTANTIATED),
    )
    assert lead.case == opened
    assert lead.rules_fired == {"overdue"}
    assert lead.escalated
    assert lead.outcome is Conclusion.PARTLY_SUBSTANTIATED


def test_a_link_and_a_listing_change_nothing_the_rules_read() -> None:
    link = UmbrellaLinked(lead_id=LEAD, case_id="case-1", gang_lead_id="L9", actor=COMMITTEE)
    assert lead_of(*WITH_CASE, link, listed()) == lead_of(*WITH_CASE)


# --- opening a case ----------------------------------------------------------------------


def test_a_case_is_opened_with_an_id_derived_from_the_lead() -> None:
    cause = reported(flags=(Flag.PROTECTIVE_UMBRELLA,))
    event = rules.open_case(lead_of(), "涉嫌保护伞", True, COMMITTEE, cause)
    assert event is not None
    assert (event.lead_id, event.case_id, event.basis, event.umbrella) == (
        LEAD,
        rules.case_id_for(LEAD),
        "涉嫌保护伞",
        True,
    )
    assert (event.correlation_id, event.causation_id) == (cause.event_id, cause.event_id)


def test_opening_a_case_twice_is_one_case() -> None:
    cause = reported()
    first = rules.open_case(lead_of(), "涉及公职人员", False, COMMITTEE, cause)
    again = rules.open_case(lead_of(), "移送纪委", False, COMMITTEE, transferred())
    assert first is not None
    assert again is not None
    assert (first.event_id, first.case_id) == (again.event_id, again.case_id)
    assert rules.open_case(lead_of(first), "移送纪委", False, COMMITTEE, cause) is None


def test_each_lead_has_its_own_case_id() -> None:
    assert rules.case_id_for("L1") == rules.case_id_for("L1") != rules.case_id_for("L2")


# --- supervision (督办) -------------------------------------------------------------------


def test_supervision_by_hand_names_the_case_if_there_is_one() -> None:
    event = rules.supervise(lead_of(*WITH_CASE), "请加快办理", COMMITTEE)
    assert (event.case_id, event.reason, event.rule) == ("case-1", "请加快办理", None)
    assert rules.supervise(lead_of(), "请加快办理", COMMITTEE).case_id is None


def test_supervision_by_hand_may_be_repeated() -> None:
    first = rules.supervise(lead_of(), "请加快办理", COMMITTEE)
    second = rules.supervise(lead_of(), "请加快办理", COMMITTEE)
    assert first.event_id != second.event_id


def test_a_rule_fires_once_per_lead_whatever_the_redeliveries() -> None:
    first = rules.supervise(lead_of(), "逾期未办结", COMMITTEE, rule="overdue")
    again = rules.supervise(lead_of(), "逾期未办结", COMMITTEE, rule="overdue")
    other = rules.supervise(lead_of(), "未反馈", COMMITTEE, rule="unanswered")
    assert first.rule == "overdue"
    assert first.event_id == again.event_id == rules.rule_event_id(LEAD, "overdue")
    assert other.event_id != first.event_id


def test_listed_supervision_orders_a_unit_by_a_deadline() -> None:
    event = rules.list_supervision(lead_of(), "shd-police", DEADLINE, "county", COMMITTEE, NOW)
    assert (event.lead_id, event.unit, event.deadline, event.level) == (
        LEAD,
        "shd-police",
        DEADLINE,
        "county",
    )


@pytest.mark.parametrize("shift", [timedelta(0), -timedelta(hours=1)], ids=["now", "past"])
def test_listed_supervision_needs_a_deadline_after_now_in_china_time(shift: timedelta) -> None:
    ten_oclock_in_china = datetime(2026, 3, 1, 10, 0, tzinfo=CHINA)  # NOW, as the town reads it
    with breaks_rule("deadline must be in the future", "督办时限必须晚于现在"):
        rules.list_supervision(
            lead_of(), "shd-police", ten_oclock_in_china + shift, "town", COMMITTEE, NOW
        )


# --- escalation (提级办理) ----------------------------------------------------------------


def test_a_case_is_escalated_to_the_county() -> None:
    event = rules.escalate(lead_of(*WITH_CASE), "county", "案情重大", COMMITTEE)
    assert (event.case_id, event.to_unit, event.reason) == ("case-1", "county", "案情重大")


def test_a_case_is_escalated_once() -> None:
    with breaks_rule("escalated already", "已提级办理"):
        rules.escalate(lead_of(*WITH_CASE, escalated()), "county", "再次提级", COMMITTEE)


# --- joint investigation of an umbrella (同步侦办) ----------------------------------------


def test_an_umbrella_case_is_linked_to_the_gang_lead_it_shields() -> None:
    event = rules.link_umbrella(lead_of(*WITH_UMBRELLA_CASE), "L9", COMMITTEE)
    assert (event.case_id, event.gang_lead_id) == ("case-1", "L9")


def test_only_an_umbrella_case_is_linked() -> None:
    with breaks_rule("only a protective-umbrella case is linked", "只有保护伞案件"):
        rules.link_umbrella(lead_of(*WITH_CASE), "L9", COMMITTEE)


def test_an_umbrella_case_does_not_shield_itself() -> None:
    with breaks_rule("cannot shield itself", "不能与自身关联"):
        rules.link_umbrella(lead_of(*WITH_UMBRELLA_CASE), LEAD, COMMITTEE)


# --- accountability (追究责任) -------------------------------------------------------------


def test_accountability_is_recorded_against_a_person_with_a_form() -> None:
    event = rules.hold_accountable(
        lead_of(*WITH_CASE), "zhao", "shd-police", "accountability", 2, "逾期未办", COMMITTEE
    )
    assert (event.case_id, event.person, event.unit, event.kind, event.form) == (
        "case-1",
        "zhao",
        "shd-police",
        "accountability",
        2,
    )


@pytest.mark.parametrize("form", [0, 5])
def test_there_are_four_forms_only(form: int) -> None:
    with pytest.raises(ValidationError, match="form"):
        rules.hold_accountable(
            lead_of(*WITH_CASE), "zhao", "shd-police", "public_criticism", form, "逾期", COMMITTEE
        )


# --- the outcome sent to the ledger --------------------------------------------------------

HANDED_OVER: tuple[LeadTransferred, ...] = (transferred("shd-discipline"),)


def test_the_outcome_of_a_lead_handed_to_the_committee_is_sent_as_a_result_only() -> None:
    event = rules.discipline_outcome(
        lead_of(*WITH_CASE), Conclusion.SUBSTANTIATED, HANDED_OVER, "shd-discipline", COMMITTEE
    )
    assert (event.lead_id, event.result) == (LEAD, Conclusion.SUBSTANTIATED)


@pytest.mark.parametrize(
    "handed_over", [(), (transferred("shd-police"),)], ids=["never-handed-over", "to-the-police"]
)
def test_no_outcome_is_sent_for_a_lead_the_ledger_did_not_hand_over(
    handed_over: tuple[LeadTransferred, ...],
) -> None:
    with breaks_rule("transferred to the discipline committee", "只有移送纪委的线索"):
        rules.discipline_outcome(
            lead_of(*WITH_CASE),
            Conclusion.SUBSTANTIATED,
            handed_over,
            "shd-discipline",
            COMMITTEE,
        )


def test_an_outcome_is_sent_once() -> None:
    lead = lead_of(*WITH_CASE, outcome())
    with breaks_rule("outcome was sent already", "处理结果已反馈"):
        rules.discipline_outcome(
            lead, Conclusion.UNSUBSTANTIATED, HANDED_OVER, "shd-discipline", COMMITTEE
        )


# --- nothing is decided on a lead without a case --------------------------------------------


@pytest.mark.parametrize(
    "decide",
    [
        lambda lead: rules.escalate(lead, "county", "案情重大", COMMITTEE),
        lambda lead: rules.link_umbrella(lead, "L9", COMMITTEE),
        lambda lead: rules.hold_accountable(
            lead, "zhao", "shd-police", "accountability", 1, "逾期", COMMITTEE
        ),
        lambda lead: rules.discipline_outcome(
            lead, Conclusion.SUBSTANTIATED, HANDED_OVER, "shd-discipline", COMMITTEE
        ),
    ],
    ids=["escalate", "link", "accountability", "outcome"],
)
def test_without_a_case_the_committee_has_nothing_to_decide_on(
    decide: Callable[[rules.OversightLead], Event],
) -> None:
    with pytest.raises(NotFound, match="no case on this lead"):
        decide(lead_of(supervision_opened()))
