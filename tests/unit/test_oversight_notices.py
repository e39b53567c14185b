"""Supervision told to the unit holding the lead (SupervisionNoticed), as given events ->
decision -> notice or nothing: once per supervision whatever the retries, only to a unit
that handles the lead, and carrying the rule and the reason, never the case."""

from __future__ import annotations

import json
from typing import get_args

from common.events import Actor, Event, Role
from common.events.catalogue import AccountabilityRecorded, CaseOpened, SupervisionOpened
from oversight.domain import cases as rules
from oversight.schemas import RuleFilter
from tests.unit.rules_support import COMMITTEE, LEAD, case_opened, supervision_opened

DISCIPLINE = "shd-discipline"
RULES = Actor(role=Role.SYSTEM, user="oversight-rules")


def lead_of(*events: Event) -> rules.OversightLead:
    return rules.fold(LEAD, events)


def by_rule(rule: str = "overdue") -> SupervisionOpened:
    return rules.supervise(lead_of(), "deadline passed more than 7 days ago", RULES, rule=rule)


def test_the_fold_keeps_every_supervision_and_what_was_noticed() -> None:
    first, second = by_rule(), supervision_opened()
    lead = lead_of(first, second)
    assert lead.supervisions == (first, second)
    assert lead.noticed == frozenset()
    notice = rules.notice(lead, first.event_id, "shd-police", DISCIPLINE)
    assert notice is not None
    assert lead_of(first, second, notice).noticed == {first.event_id}


def test_a_rule_supervision_is_told_to_the_unit_holding_the_lead_with_its_rule_and_reason() -> None:
    supervision = by_rule()
    notice = rules.notice(lead_of(supervision), supervision.event_id, "shd-police", DISCIPLINE)
    assert notice is not None
    assert (notice.lead_id, notice.unit, notice.rule, notice.reason) == (
        LEAD,
        "shd-police",
        "overdue",
        "deadline passed more than 7 days ago",
    )
    assert notice.event_id == rules.notice_event_id(supervision.event_id)
    assert notice.causation_id == supervision.event_id
    # From the committee, not from a named person or job.
    assert notice.actor == Actor(role=Role.SYSTEM, unit=DISCIPLINE)


def test_a_supervision_by_hand_is_told_without_the_members_name() -> None:
    supervision = rules.supervise(lead_of(case_opened()), "请加快办理", COMMITTEE)
    lead = lead_of(case_opened(), supervision)
    notice = rules.notice(lead, supervision.event_id, "shd-judicial", DISCIPLINE)
    assert notice is not None
    assert (notice.unit, notice.rule, notice.reason) == ("shd-judicial", None, "请加快办理")
    assert notice.actor == Actor(role=Role.DISCIPLINE, unit=DISCIPLINE)


def test_a_supervision_is_told_once_however_often_the_notice_is_decided_again() -> None:
    supervision = by_rule()
    lead = lead_of(supervision)
    first = rules.notice(lead, supervision.event_id, "shd-police", DISCIPLINE)
    again = rules.notice(lead, supervision.event_id, "shd-police", DISCIPLINE)
    assert first is not None
    assert again is not None
    # Appended twice (a lost acknowledgement), it is one message: the same id.
    assert first.event_id == again.event_id
    # Decided on the history that holds it, there is nothing more to tell, even to a new unit.
    assert (
        rules.notice(lead_of(supervision, first), supervision.event_id, "shd-police", DISCIPLINE)
        is None
    )
    assert (
        rules.notice(lead_of(supervision, first), supervision.event_id, "shd-judicial", DISCIPLINE)
        is None
    )


def test_each_supervision_has_its_own_notice() -> None:
    overdue, open_too_long = by_rule("overdue"), by_rule("open_too_long")
    lead = lead_of(overdue, open_too_long)
    told = rules.notice(lead, overdue.event_id, "shd-police", DISCIPLINE)
    assert told is not None
    other = rules.notice(
        lead_of(overdue, open_too_long, told), open_too_long.event_id, "shd-police", DISCIPLINE
    )
    assert other is not None
    assert other.event_id != told.event_id
    assert other.rule == "open_too_long"


def test_nobody_is_told_while_no_unit_holds_the_lead() -> None:
    supervision = by_rule("same_matter")
    assert rules.notice(lead_of(supervision), supervision.event_id, None, DISCIPLINE) is None


def test_the_committee_is_not_told_of_its_own_supervision_of_a_lead_it_holds() -> None:
    supervision = by_rule()
    assert rules.notice(lead_of(supervision), supervision.event_id, DISCIPLINE, DISCIPLINE) is None


def test_a_supervision_the_lead_does_not_have_is_not_told() -> None:
    supervision = by_rule()
    assert rules.notice(lead_of(), supervision.event_id, "shd-police", DISCIPLINE) is None


def test_the_notice_carries_nothing_of_the_case() -> None:
    """The attack: a unit reading its directives learns that it is supervised and why,
    not that the committee has a case, on what basis, or whom it holds accountable."""
    case = CaseOpened(
        lead_id=LEAD,
        case_id=rules.case_id_for(LEAD),
        basis="举报称派出所副所长收受砂石厂好处",
        umbrella=True,
        actor=COMMITTEE,
    )
    accountable = AccountabilityRecorded(
        lead_id=LEAD,
        case_id=case.case_id,
        person="赵副所长",
        unit="shd-police",
        kind="accountability",
        form=2,
        reason="长期不予查处",
        actor=COMMITTEE,
    )
    supervision = rules.supervise(lead_of(case, accountable), "请加快核查", COMMITTEE)
    assert supervision.case_id == case.case_id  # the committee's own record names its case
    lead = lead_of(case, accountable, supervision)
    notice = rules.notice(lead, supervision.event_id, "shd-police", DISCIPLINE)
    assert notice is not None
    body = notice.model_dump(mode="json")
    assert set(body) - set(Event.model_fields) == {"unit", "reason", "rule"}
    wire = json.dumps(body, ensure_ascii=False)
    for secret in (case.case_id, case.event_id, case.basis, accountable.person, accountable.reason):
        assert secret not in wire, secret


def test_every_rule_has_a_name_in_both_languages_and_the_list_filters_on_each() -> None:
    assert rules.rule_label("overdue") == ("逾期未办结", "deadline passed")
    assert rules.rule_label(None) == rules.BY_HAND_LABEL
    assert rules.rule_label("retired_rule") == ("retired_rule", "retired_rule")
    assert set(get_args(RuleFilter)) == {*rules.SUPERVISION_RULES, rules.BY_HAND}
