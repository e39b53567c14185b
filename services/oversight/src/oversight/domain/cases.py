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
    SupervisionNoticed,
    SupervisionOpened,
    UmbrellaLinked,
)
from common.events.conflict import ConflictGuardLifted, ConflictGuardSet
from common.vocabulary import Conclusion

_NAMESPACE: Final = uuid.UUID("c2f4a6b8-1d3e-4f50-9a7b-8c6d5e4f3a2b")


def case_id_for(lead_id: str) -> str:
    """One case per lead, with an id anyone can derive: opening it twice is one case."""
    return uuid.uuid5(_NAMESPACE, f"case:{lead_id}").hex


def rule_event_id(lead_id: str, rule: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"rule:{rule}:{lead_id}"))


def notice_event_id(supervision_id: str) -> str:
    """One notice per supervision, with an id anyone can derive: sent again, it is the same."""
    return str(uuid.uuid5(_NAMESPACE, f"noticed:{supervision_id}"))


#: The automatic supervision rules (自动督办), with their names in Chinese and English.
SUPERVISION_RULES: Final[dict[str, tuple[str, str]]] = {
    "overdue": ("逾期未办结", "deadline passed"),
    "same_matter": ("同一事项多次举报", "repeated reports on the same matter"),
    "open_too_long": ("久拖未结", "open too long"),
}
#: How the committee's list names a supervision opened by a member's decision (rule None).
BY_HAND: Final = "manual"
BY_HAND_LABEL: Final = ("人工督办", "by the committee's decision")


def rule_label(rule: str | None) -> tuple[str, str]:
    """A supervision's rule in Chinese and English (a rule no longer known, by its code)."""
    if rule is None:
        return BY_HAND_LABEL
    return SUPERVISION_RULES.get(rule, (rule, rule))


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
    #: every supervision of the lead, by hand or by a rule, oldest first
    supervisions: tuple[SupervisionOpened, ...] = ()
    #: the supervisions the unit holding the lead was told of (SupervisionNoticed)
    noticed: frozenset[str] = field(default_factory=frozenset)
    escalated: bool = False
    outcome: Conclusion | None = None


def fold(lead_id: str, events: Iterable[Event]) -> OversightLead:
    lead = OversightLead(lead_id=lead_id)
    for event in events:
        match event:
            case CaseOpened():
                lead = replace(lead, case=event)
            case SupervisionOpened():
                fired = lead.rules_fired | ({event.rule} if event.rule else set())
                lead = replace(lead, rules_fired=fired, supervisions=(*lead.supervisions, event))
            case SupervisionNoticed(causation_id=str() as supervision_id):
                lead = replace(lead, noticed=lead.noticed | {supervision_id})
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


def notice(
    lead: OversightLead, supervision_id: str, holder: str | None, committee: str
) -> SupervisionNoticed | None:
    """The directive telling the unit holding the lead (``holder``) that the committee
    supervises it: the rule that fired (None by hand) and the reason, never the case, its
    basis or anything else the committee keeps. Once per supervision, and its id derived
    from the supervision's, so a retried append or a second round is the same notice. None
    when there is nothing to tell yet or no one to tell: the unit was told already, the lead
    is not filed (no unit holds it: told once it is), or the committee holds it itself."""
    supervision = next((s for s in lead.supervisions if s.event_id == supervision_id), None)
    if supervision is None or supervision_id in lead.noticed:
        return None
    if holder is None or holder == committee:
        return None
    return SupervisionNoticed(
        event_id=notice_event_id(supervision_id),
        lead_id=lead.lead_id,
        unit=holder,
        reason=supervision.reason,
        rule=supervision.rule,
        # From the committee, not the member who decided (as every directive).
        actor=Actor(role=supervision.actor.role, unit=committee),
        **supervision.caused(),
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


# --- the committee's guards its cases set by themselves ---------------------------------


def case_guard_id(lead_id: str, account: str, accountability_id: str) -> str:
    """The guard a case's accountability record sets: derived from the record, so a retry,
    a second round or a replay is the same guard (Nats-Msg-Id deduplicates it)."""
    return str(uuid.uuid5(_NAMESPACE, f"guard:{lead_id}:{account}:{accountability_id}"))


def case_guards(
    lead_id: str,
    case: CaseOpened | None,
    subjects: Iterable[tuple[str, AccountabilityRecorded]],
    closed: bool,
    directives: Iterable[Event],
    committee: Actor,
) -> list[ConflictGuardSet | ConflictGuardLifted]:
    """What brings the committee's guards on the lead in line with its case: while the case
    is open, each person it holds to account (``subjects``: their account and the record)
    is kept off the lead, for the case's category (umbrella or accountability); once it is
    closed (its outcome sent), the guards the case set are lifted. A guard a member set by
    hand, or set again by hand over the case's, stands until a member lifts it."""
    standing: dict[str, str] = {}
    for event in directives:
        if isinstance(event, ConflictGuardSet):
            standing[event.account] = event.event_id
        elif isinstance(event, ConflictGuardLifted):
            standing.pop(event.account, None)
    ours = {case_guard_id(lead_id, account, record.event_id) for account, record in subjects}
    if case is None:
        return []
    reason: Literal["umbrella", "accountability"] = (
        "umbrella" if case.umbrella else "accountability"
    )
    changes: list[ConflictGuardSet | ConflictGuardLifted] = []
    if closed:
        for account, guard_id in sorted(standing.items()):
            if guard_id in ours:
                changes.append(
                    ConflictGuardLifted(
                        event_id=str(uuid.uuid5(_NAMESPACE, f"lifted:{guard_id}")),
                        lead_id=lead_id,
                        account=account,
                        actor=committee,
                    )
                )
        return changes
    for account, record in subjects:
        if account in standing or any(
            isinstance(c, ConflictGuardSet) and c.account == account for c in changes
        ):
            continue
        changes.append(
            ConflictGuardSet(
                event_id=case_guard_id(lead_id, account, record.event_id),
                lead_id=lead_id,
                account=account,
                reason=reason,
                # Nothing of the record goes with it: the ledger is told the category only.
                actor=committee,
            )
        )
    return changes
