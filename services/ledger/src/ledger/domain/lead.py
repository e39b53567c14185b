"""A lead in the ledger: its state folded from its events, and the decisions made on it.

Every decision is taken on the lead's own events (read from the streams, not from the
read model) and returns the event to append; a broken rule raises RuleViolation with a
sentence the clerk can act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from common.errors import NotFound, NotPermitted, RuleViolation
from common.events import Actor, Event
from common.events.catalogue import (
    Attachment,
    DeadlineExtended,
    DeadlineMissed,
    FeedbackGiven,
    LeadArchived,
    LeadConcluded,
    LeadRegistered,
    LeadReopened,
    LeadTransferred,
    ResponsibilityAssigned,
    SupervisionListed,
    TransferAccepted,
    TransferReturned,
    VerificationRecorded,
)
from common.vocabulary import Conclusion, LeadStatus


@dataclass(frozen=True)
class LedgerLead:
    registered: LeadRegistered
    status: LeadStatus = LeadStatus.REGISTERED
    holder: str = ""
    pending_to: str | None = None
    assignee: str | None = None
    deadline: datetime | None = None
    result: Conclusion | None = None
    answered_since_result: bool = False
    archived: bool = False
    missed: frozenset[datetime] = field(default_factory=frozenset)

    @property
    def lead_id(self) -> str:
        return self.registered.lead_id

    @property
    def concluded(self) -> bool:
        return self.result is not None


def fold(events: Iterable[Event]) -> LedgerLead:
    lead: LedgerLead | None = None
    for event in events:
        if isinstance(event, LeadRegistered):
            lead = LedgerLead(registered=event, holder=event.unit)
        elif lead is not None:
            lead = evolve(lead, event)
    if lead is None:
        raise NotFound("this lead is not in the ledger")
    return lead


def evolve(lead: LedgerLead, event: Event) -> LedgerLead:
    """The lead after one more event."""
    match event:
        case LeadTransferred():
            return replace(
                lead,
                status=LeadStatus.TRANSFERRED,
                pending_to=event.to_unit,
                assignee=None,
                deadline=None,
            )
        case TransferAccepted():
            return replace(lead, status=LeadStatus.ACCEPTED, holder=event.unit, pending_to=None)
        case TransferReturned():
            return replace(lead, status=LeadStatus.RETURNED, holder=event.to_unit, pending_to=None)
        case ResponsibilityAssigned():
            return replace(
                lead, status=LeadStatus.ASSIGNED, assignee=event.assignee, deadline=event.deadline
            )
        case DeadlineExtended():
            return replace(lead, deadline=event.deadline)
        case VerificationRecorded():
            return replace(lead, status=LeadStatus.VERIFYING)
        case LeadConcluded():
            return replace(
                lead, status=LeadStatus.CONCLUDED, result=event.result, answered_since_result=False
            )
        case FeedbackGiven():
            if lead.concluded:
                return replace(lead, status=LeadStatus.ANSWERED, answered_since_result=True)
            return lead
        case LeadArchived():
            return replace(lead, status=LeadStatus.ARCHIVED, archived=True)
        case LeadReopened():
            # The deadline was for the result given before: met or missed, it is settled.
            # The look-back review is assigned with a deadline of its own.
            return replace(
                lead,
                status=LeadStatus.REOPENED,
                archived=False,
                result=None,
                answered_since_result=False,
                deadline=None,
            )
        case DeadlineMissed():
            return replace(lead, missed=lead.missed | {event.deadline})
        case SupervisionListed():
            return lead
    return lead


# --- guards ---------------------------------------------------------------------------


def _not_archived(lead: LedgerLead, doing: str, doing_zh: str) -> None:
    if lead.archived:
        raise RuleViolation(
            f"the lead is archived: {doing} is not possible; reopen it for a look-back review first",
            f"该线索已归档，不能{doing_zh}；如需回头看，请先重新启用",
        )


def _held_by(lead: LedgerLead, actor: Actor) -> None:
    if lead.pending_to is not None:
        raise RuleViolation(
            f"the lead is waiting for {lead.pending_to} to accept or return it",
            f"该线索正等待{lead.pending_to}接收或退回",
        )
    if actor.unit != lead.holder:
        raise NotPermitted(
            f"only the unit holding the lead ({lead.holder}) acts on it; you are {actor.unit}"
        )


def _not_concluded(lead: LedgerLead, doing: str, doing_zh: str) -> None:
    if lead.concluded:
        raise RuleViolation(
            f"the lead is concluded: {doing} is not possible; reopen it first",
            f"该线索已办结，不能{doing_zh}；如需继续办理，请先重新启用",
        )


# --- decisions ------------------------------------------------------------------------


def transfer(lead: LedgerLead, to_unit: str, reason: str, actor: Actor) -> LeadTransferred:
    _not_archived(lead, "a transfer", "移交")
    _held_by(lead, actor)
    _not_concluded(lead, "a transfer", "移交")
    if to_unit == lead.holder:
        raise RuleViolation("the lead is already held by that unit", "该线索已在该单位，无需移交")
    return LeadTransferred(
        lead_id=lead.lead_id,
        from_unit=lead.holder,
        to_unit=to_unit,
        reason=reason,
        actor=actor,
        **lead.registered.caused(),
    )


def accept(lead: LedgerLead, actor: Actor) -> TransferAccepted:
    _awaiting(lead, actor)
    return TransferAccepted(
        lead_id=lead.lead_id, unit=actor.unit or "", actor=actor, **lead.registered.caused()
    )


def return_transfer(lead: LedgerLead, reason: str, actor: Actor) -> TransferReturned:
    _awaiting(lead, actor)
    return TransferReturned(
        lead_id=lead.lead_id,
        unit=actor.unit or "",
        to_unit=lead.holder,
        reason=reason,
        actor=actor,
        **lead.registered.caused(),
    )


def _awaiting(lead: LedgerLead, actor: Actor) -> None:
    _not_archived(lead, "accepting or returning it", "接收或退回")
    _not_concluded(lead, "accepting or returning it", "接收或退回")
    if lead.pending_to is None:
        raise RuleViolation(
            "the lead is not waiting for anyone to accept it", "该线索没有待接收的移交"
        )
    if actor.unit != lead.pending_to:
        raise NotPermitted(f"the lead was handed to {lead.pending_to}, not to {actor.unit}")


def assign(
    lead: LedgerLead,
    assignee: str,
    assignee_name: str,
    deadline: datetime,
    reason: str,
    actor: Actor,
    now: datetime,
) -> ResponsibilityAssigned:
    _not_archived(lead, "an assignment", "指定责任人")
    _held_by(lead, actor)
    _not_concluded(lead, "an assignment", "指定责任人")
    if deadline <= now:
        raise RuleViolation("the deadline must be in the future", "办理时限必须晚于现在")
    if lead.assignee is not None and not reason:
        raise RuleViolation("a reassignment needs a reason", "更换责任人须说明理由")
    return ResponsibilityAssigned(
        lead_id=lead.lead_id,
        unit=lead.holder,
        assignee=assignee,
        assignee_name=assignee_name,
        deadline=deadline,
        reason=reason,
        actor=actor,
        **lead.registered.caused(),
    )


def extend_deadline(
    lead: LedgerLead, deadline: datetime, reason: str, actor: Actor, now: datetime
) -> DeadlineExtended:
    _not_archived(lead, "extending the deadline", "延长时限")
    _held_by(lead, actor)
    _not_concluded(lead, "extending the deadline", "延长时限")
    if lead.deadline is None:
        raise RuleViolation(
            "no one is responsible yet: assign the lead with a deadline first",
            "尚未责任到人，请先指定责任人和办理时限",
        )
    if deadline <= lead.deadline:
        raise RuleViolation(
            "the new deadline must be later than the current one", "新的时限必须晚于原时限"
        )
    # A deadline already missed is extended to one that can still be met, not to another
    # moment in the past (which would only make the lead look handled in time).
    if deadline <= now:
        raise RuleViolation(
            "the new deadline must be in the future", "新的时限必须晚于现在", field="deadline"
        )
    return DeadlineExtended(
        lead_id=lead.lead_id,
        deadline=deadline,
        reason=reason,
        actor=actor,
        **lead.registered.caused(),
    )


def record_verification(
    lead: LedgerLead, note: str, evidence: tuple[Attachment, ...], actor: Actor
) -> VerificationRecorded:
    _not_archived(lead, "recording verification", "记录核查情况")
    _held_by(lead, actor)
    _not_concluded(lead, "recording verification", "记录核查情况")
    _responsible(lead)
    return VerificationRecorded(
        lead_id=lead.lead_id, note=note, evidence=evidence, actor=actor, **lead.registered.caused()
    )


def conclude(lead: LedgerLead, result: Conclusion, summary: str, actor: Actor) -> LeadConcluded:
    _not_archived(lead, "concluding", "办结")
    _held_by(lead, actor)
    _not_concluded(lead, "concluding again", "重复办结")
    _responsible(lead)
    return LeadConcluded(
        lead_id=lead.lead_id,
        result=result,
        summary=summary,
        actor=actor,
        **lead.registered.caused(),
    )


def _responsible(lead: LedgerLead) -> None:
    if lead.assignee is None:
        raise RuleViolation(
            "no one is responsible for the lead yet: assign it to a named person first",
            "尚未责任到人，请先指定责任人",
        )


def give_feedback(lead: LedgerLead, text: str, method: str, actor: Actor) -> FeedbackGiven:
    _not_archived(lead, "feedback", "反馈")
    if actor.unit not in (lead.holder, lead.registered.unit):
        raise NotPermitted(
            "feedback is given by the unit holding the lead or the office that filed it"
        )
    return FeedbackGiven(
        lead_id=lead.lead_id, text=text, method=method, actor=actor, **lead.registered.caused()
    )


def archive(lead: LedgerLead, actor: Actor) -> LeadArchived:
    _not_archived(lead, "archiving again", "重复归档")
    if actor.unit != lead.registered.unit:
        raise NotPermitted("the office that filed the lead archives it")
    if not lead.concluded:
        raise RuleViolation("a lead is archived only after it is concluded", "线索办结后才能归档")
    if not lead.answered_since_result:
        raise RuleViolation(
            "the reporter has not been answered since the result: give feedback first",
            "尚未向举报人反馈办理结果，请先反馈",
        )
    return LeadArchived(lead_id=lead.lead_id, actor=actor, **lead.registered.caused())


def reopen(lead: LedgerLead, reason: str, actor: Actor) -> LeadReopened:
    if not (lead.archived or lead.concluded):
        raise RuleViolation(
            "only a concluded or archived lead can be reopened",
            "只有已办结或已归档的线索才能回头看",
        )
    if actor.unit != lead.registered.unit:
        raise NotPermitted("the office that filed the lead reopens it")
    return LeadReopened(
        lead_id=lead.lead_id, reason=reason, actor=actor, **lead.registered.caused()
    )


def record_discipline_outcome(
    lead: LedgerLead, result: Conclusion, discipline_unit: str, actor: Actor
) -> LeadConcluded | None:
    """The ledger's own record of the discipline committee's outcome for a lead it handed
    over: the lead's result, in the lead's own order. None when there is nothing to record."""
    at_committee = discipline_unit in (lead.holder, lead.pending_to)
    if not at_committee or lead.concluded or lead.archived:
        return None
    return LeadConcluded(
        lead_id=lead.lead_id,
        result=result,
        summary="纪委处理结果 (the discipline committee's outcome)",
        actor=actor,
        **lead.registered.caused(),
    )


def deadline_missed(lead: LedgerLead, now: datetime, actor: Actor) -> DeadlineMissed | None:
    """The DeadlineMissed due now, or None (no deadline, not passed, concluded, or told)."""
    if lead.deadline is None or lead.deadline > now or lead.concluded or lead.archived:
        return None
    if lead.deadline in lead.missed:
        return None
    return DeadlineMissed(
        lead_id=lead.lead_id,
        unit=lead.holder if lead.pending_to is None else lead.pending_to,
        assignee=lead.assignee or "",
        deadline=lead.deadline,
        actor=actor,
        **lead.registered.caused(),
    )
