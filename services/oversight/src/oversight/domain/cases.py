"""A lead as the discipline committee sees it, and what it may decide about it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, Literal

from common import routing
from common.errors import NotFound, RuleViolation
from common.events import Actor, Event
from common.events.catalogue import (
    AccountabilityRecorded,
    CaseOpened,
    DisciplineOutcome,
    EscalatedToHigherLevel,
    LeadReported,
    LeadTransferred,
    SupervisionListed,
    SupervisionOpened,
    UmbrellaLinked,
)
from common.vocabulary import Conclusion

_NAMESPACE: Final = uuid.UUID("c2f4a6b8-1d3e-4f50-9a7b-8c6d5e4f3a2b")


def case_id_for(lead_id: str) -> str:
    """One case per lead, with an id anyone can derive: opening it twice is one case."""
    return uuid.uuid5(_NAMESPACE, f"case:{lead_id}").hex


def rule_event_id(lead_id: str, rule: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"rule:{rule}:{lead_id}"))


def is_umbrella(reported: LeadReported) -> bool:
    """A protective-umbrella case is handled first."""
    return routing.is_umbrella(reported.flags, reported.category)


def needs_case(reported: LeadReported, watched: routing.CommitteeRule) -> bool:
    """Whether the committee opens a case on this report by itself (``watched`` is the
    rule it watches reports by, from its settings)."""
    return watched.takes(reported.flags, reported.category)


@dataclass(frozen=True)
class OversightLead:
    lead_id: str
    case: CaseOpened | None = None
    rules_fired: frozenset[str] = field(default_factory=frozenset)
    escalated: bool = False
    outcome: Conclusion | None = None


def fold(lead_id: str, events: Iterable[Event]) -> OversightLead:
    lead = OversightLead(lead_id=lead_id)
    for event in events:
        match event:
            case CaseOpened():
                lead = replace(lead, case=event)
            case SupervisionOpened(rule=str() as rule):
                lead = replace(lead, rules_fired=lead.rules_fired | {rule})
            case EscalatedToHigherLevel():
                lead = replace(lead, escalated=True)
            case DisciplineOutcome():
                lead = replace(lead, outcome=event.result)
    return lead


def open_case(
    lead: OversightLead, basis: str, umbrella: bool, actor: Actor, cause: Event
) -> CaseOpened | None:
    """The case to open, or None when the lead has one already."""
    if lead.case is not None:
        return None
    return CaseOpened(
        event_id=str(uuid.uuid5(_NAMESPACE, f"opened:{lead.lead_id}")),
        lead_id=lead.lead_id,
        case_id=case_id_for(lead.lead_id),
        basis=basis,
        umbrella=umbrella,
        actor=actor,
        **cause.caused(),
    )


def _case(lead: OversightLead) -> CaseOpened:
    if lead.case is None:
        raise NotFound("the discipline committee has no case on this lead")
    return lead.case


def supervise(
    lead: OversightLead, reason: str, actor: Actor, rule: str | None = None
) -> SupervisionOpened:
    return SupervisionOpened(
        lead_id=lead.lead_id,
        case_id=lead.case.case_id if lead.case else None,
        reason=reason,
        rule=rule,
        actor=actor,
        **({"event_id": rule_event_id(lead.lead_id, rule)} if rule else {}),
    )


def list_supervision(
    lead: OversightLead,
    unit: str,
    deadline: datetime,
    level: Literal["town", "county"],
    actor: Actor,
    now: datetime,
) -> SupervisionListed:
    if deadline <= now:
        raise RuleViolation("the deadline must be in the future", "督办时限必须晚于现在")
    return SupervisionListed(
        lead_id=lead.lead_id, unit=unit, deadline=deadline, level=level, actor=actor
    )


def escalate(
    lead: OversightLead, to_unit: str, reason: str, actor: Actor
) -> EscalatedToHigherLevel:
    case = _case(lead)
    if lead.escalated:
        raise RuleViolation("the case was escalated already", "该案件已提级办理")
    return EscalatedToHigherLevel(
        lead_id=lead.lead_id, case_id=case.case_id, to_unit=to_unit, reason=reason, actor=actor
    )


def link_umbrella(lead: OversightLead, gang_lead_id: str, actor: Actor) -> UmbrellaLinked:
    case = _case(lead)
    if not case.umbrella:
        raise RuleViolation(
            "only a protective-umbrella case is linked to the gang case it shields",
            "只有保护伞案件才能与其庇护的涉黑涉恶案件关联",
        )
    if gang_lead_id == lead.lead_id:
        raise RuleViolation("a case cannot shield itself", "不能与自身关联")
    return UmbrellaLinked(
        lead_id=lead.lead_id, case_id=case.case_id, gang_lead_id=gang_lead_id, actor=actor
    )


def hold_accountable(
    lead: OversightLead,
    person: str,
    unit: str,
    kind: Literal["public_criticism", "accountability"],
    form: int,
    reason: str,
    actor: Actor,
) -> AccountabilityRecorded:
    case = _case(lead)
    return AccountabilityRecorded(
        lead_id=lead.lead_id,
        case_id=case.case_id,
        person=person,
        unit=unit,
        kind=kind,
        form=form,
        reason=reason,
        actor=actor,
    )


def discipline_outcome(
    lead: OversightLead,
    result: Conclusion,
    handed_over: Iterable[LeadTransferred],
    discipline_unit: str,
    actor: Actor,
) -> DisciplineOutcome:
    _case(lead)
    if not any(t.to_unit == discipline_unit for t in handed_over):
        raise RuleViolation(
            "an outcome is sent only for a lead the ledger transferred to the discipline committee",
            "只有移送纪委的线索才能反馈处理结果",
        )
    if lead.outcome is not None:
        raise RuleViolation("the outcome was sent already", "处理结果已反馈")
    return DisciplineOutcome(lead_id=lead.lead_id, result=result, actor=actor)
