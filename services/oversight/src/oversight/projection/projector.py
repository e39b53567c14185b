"""Pure handlers folding intake, ledger, oversight, directive and audit events into
oversight's tables. The streams are consumed side by side, so a lead's row is created by
whichever of its events arrives first. What was reported and the exchange with the reporter
are folded by :mod:`oversight.projection.reported`. Each unit's turn with a lead and each
person's deadline, which the assessment counts for whoever was responsible at the moment,
are kept by the ledger's events in their order (oversight.domain.assessment)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from common.batchwriter import BatchWriter, Row
from common.database import as_utc
from common.events import Event
from common.events.catalogue import (
    AccountabilityRecorded,
    CaseOpened,
    DeadlineExtended,
    DeadlineMissed,
    DisciplineOutcome,
    DuplicateSuspected,
    EscalatedToHigherLevel,
    FeedbackGiven,
    IdentityDisclosed,
    LeadArchived,
    LeadConcluded,
    LeadRegistered,
    LeadReopened,
    LeadReported,
    LeadSupplemented,
    LeadsViewed,
    LeadTransferred,
    LeadViewed,
    LedgerExported,
    ReporterMessagePosted,
    ResponsibilityAssigned,
    SupervisionListed,
    SupervisionNoticed,
    SupervisionOpened,
    TransferAccepted,
    TransferReturned,
    UmbrellaLinked,
    View,
)
from common.events.custody import (
    IdentityAccessApproved,
    IdentityAccessRefused,
    IdentityAccessRequested,
)
from common.projection import Handler, Projection, Subscription
from common.subjects import Stream
from oversight.domain.assessment import missed_by, month_of, settle
from oversight.domain.cases import case_id_for
from oversight.projection import reported, tasks
from oversight.projection.tables import (
    VERSION,
    access,
    accountability,
    assignments,
    cases,
    custody,
    leads,
    metadata,
    moments,
    notices,
    supervisions,
    turns,
)

# The moments a tip-off would be worth most just before.
KEY_MOMENTS: Final = frozenset(
    {
        "LeadTransferred",
        "ResponsibilityAssigned",
        "CaseOpened",
        "SupervisionOpened",
        "SupervisionListed",
        "EscalatedToHigherLevel",
        "LeadConcluded",
        "DisciplineOutcome",
    }
)


# A case's status is the furthest it has come, whatever order its events were applied in:
# the OVERSIGHT and DIRECTIVES streams are read side by side live and one after the other in
# a replay, so "the last event applied wins" would make the two disagree.
CASE_STATUS_RANK: Final = {"open": 0, "supervised": 1, "listed": 2, "escalated": 3, "closed": 4}


# A lead's row before any of its events: the columns' defaults (every new lead starts here).
_NEW_LEAD: Final = {c.name: getattr(c.default, "arg", None) for c in leads.columns}


def _lead(db: BatchWriter, lead_id: str) -> Row:
    row = db.get(leads, lead_id)
    if row is None:
        row = {**_NEW_LEAD, "lead_id": lead_id}
    return row


def _change_lead(change: Callable[[Row, Any], None]) -> Callable[[BatchWriter, Any], None]:
    def handle(db: BatchWriter, event: Any) -> None:
        row = _lead(db, event.lead_id)
        change(row, event)
        db.put(leads, row)
        _moment(db, event)

    return handle


def _moment(db: BatchWriter, event: Event) -> None:
    if event.event_type in KEY_MOMENTS and event.lead_id:
        db.put(
            moments,
            {
                "event_id": event.event_id,
                "lead_id": event.lead_id,
                "event_type": event.event_type,
                "at": event.occurred_at,
            },
        )


def _custody(db: BatchWriter, event: Event, kind: str, **values: Any) -> None:
    db.put(
        custody,
        {
            "event_id": event.event_id,
            "lead_id": event.lead_id,
            "at": event.occurred_at,
            "kind": kind,
            "unit": values.get("unit"),
            "person": values.get("person"),
            "person_name": values.get("person_name"),
            "deadline": values.get("deadline"),
            "by_user": event.actor.user,
            "note": values.get("note", ""),
        },
    )


# --- 考核: turns and assignments --------------------------------------------------------


def _begin_turn(
    db: BatchWriter,
    row: Row,
    event: Event,
    unit: str,
    began: str,
    hours_to_register: float | None = None,
) -> None:
    turn = {
        "turn_id": event.event_id,
        "lead_id": row["lead_id"],
        "unit": unit,
        "month": month_of(event.occurred_at),
        "began_at": event.occurred_at,
        "began": began,
        "hours_to_register": hours_to_register,
        "ended_at": None,
        "ended": None,
        "ended_by": None,
        "concluded_at": None,
        "answered_at": None,
    }
    db.put(turns, turn)
    row["turn"] = event.event_id


def _change_turn(db: BatchWriter, row: Row, **values: Any) -> None:
    turn = db.get(turns, row["turn"]) if row["turn"] else None
    if turn is not None:
        turn.update(values)
        db.put(turns, turn)


def _end_turn(db: BatchWriter, row: Row, event: Event, ended: str) -> None:
    _end_assignment(db, row, event, concluded=False)
    _change_turn(db, row, ended_at=event.occurred_at, ended=ended, ended_by=event.actor.user)
    row["turn"] = None


def _end_assignment(db: BatchWriter, row: Row, event: Event, *, concluded: bool) -> None:
    """The assignment in force ends: by the lead's conclusion, or handed on, reassigned."""
    found = db.get(assignments, row["assignment"]) if row["assignment"] else None
    row["assignment"] = None
    if found is None:
        return
    deadline = as_utc(found["deadline"])
    assert deadline is not None  # noqa: S101 - an assignment always has its deadline
    settled = settle(deadline, as_utc(found["missed_through"]), event.occurred_at, concluded)
    found.update(
        ended_at=event.occurred_at,
        on_time=settled.on_time,
        missed=found["missed"] + settled.missed,
        missed_through=settled.missed_through,
    )
    db.put(assignments, found)


def _begin_assignment(db: BatchWriter, row: Row, event: ResponsibilityAssigned) -> None:
    _end_assignment(db, row, event, concluded=False)
    turn = db.get(turns, row["turn"]) if row["turn"] else None
    db.put(
        assignments,
        {
            "assignment_id": event.event_id,
            "lead_id": event.lead_id,
            "turn_id": row["turn"],
            "unit": event.unit,
            "month": turn["month"] if turn is not None else month_of(event.occurred_at),
            "person": event.assignee,
            "person_name": event.assignee_name,
            "assigned_at": event.occurred_at,
            "deadline": event.deadline,
            "ended_at": None,
            "on_time": None,
            "missed": 0,
            "missed_through": None,
        },
    )
    row["assignment"] = event.event_id


def _move_deadline(db: BatchWriter, row: Row, event: DeadlineExtended) -> None:
    found = db.get(assignments, row["assignment"]) if row["assignment"] else None
    if found is None:
        return
    deadline = as_utc(found["deadline"])
    assert deadline is not None  # noqa: S101 - an assignment always has its deadline
    missed, through = missed_by(deadline, as_utc(found["missed_through"]), event.occurred_at)
    found.update(deadline=event.deadline, missed=found["missed"] + missed, missed_through=through)
    db.put(assignments, found)


# --- intake ---------------------------------------------------------------------------


def _reported(row: Row, event: LeadReported) -> None:
    row.update(
        category=event.category.value,
        village=event.village,
        flags=",".join(f.value for f in event.flags),
        summary=event.summary,
        reported_at=event.occurred_at,
    )


_reported_on_row = _change_lead(_reported)


def report(db: BatchWriter, event: LeadReported) -> None:
    reported.reported(db, event)
    _reported_on_row(db, event)


def duplicate(db: BatchWriter, event: DuplicateSuspected) -> None:
    row = _lead(db, event.lead_id)
    row["duplicate_of"] = event.duplicate_of
    db.put(leads, row)
    first = _lead(db, event.duplicate_of)
    first["same_matter_reports"] = (first["same_matter_reports"] or 1) + 1
    db.put(leads, first)


def disclosed(db: BatchWriter, event: IdentityDisclosed) -> None:
    on_request = f"request {event.request_id}: " if event.request_id else ""
    _access(db, event, "identity_disclosed", "intake", on_request + event.reason)


# Each step of a request for a reporter's identity is an entry of the access log, under
# the person who took it: the committee sees who asked, who decided and who read.


def identity_requested(db: BatchWriter, event: IdentityAccessRequested) -> None:
    purpose = f"request {event.request_id}: {event.reason_category.value}: {event.reason}"
    _access(db, event, "identity_requested", "intake", purpose)


def identity_approved(db: BatchWriter, event: IdentityAccessApproved) -> None:
    purpose = f"request {event.request_id}: valid until {event.valid_until.isoformat()}"
    _access(db, event, "identity_approved", "intake", purpose)


def identity_refused(db: BatchWriter, event: IdentityAccessRefused) -> None:
    _access(db, event, "identity_refused", "intake", f"request {event.request_id}: {event.reason}")


# --- ledger ---------------------------------------------------------------------------


def registered(db: BatchWriter, event: LeadRegistered) -> None:
    row = _lead(db, event.lead_id)
    row.update(
        ledger_number=event.ledger_number,
        registered_at=event.occurred_at,
        holder=event.unit,
        category=row["category"] or event.category.value,
        village=row["village"] or event.village,
        reported_at=row["reported_at"] or event.reported_at,
    )
    waited = (event.occurred_at - event.reported_at).total_seconds() / 3600
    _begin_turn(db, row, event, event.unit, "registered", waited)
    db.put(leads, row)
    _custody(db, event, "registered", unit=event.unit)


def transferred(db: BatchWriter, event: LeadTransferred) -> None:
    row = _lead(db, event.lead_id)
    _end_turn(db, row, event, "transferred")
    _begin_turn(db, row, event, event.to_unit, "transferred")
    row.update(holder=event.to_unit, assignee=None, deadline=None)
    db.put(leads, row)
    _moment(db, event)
    _custody(
        db, event, "transferred", unit=event.to_unit, note=f"from {event.from_unit}: {event.reason}"
    )


def accepted(db: BatchWriter, event: TransferAccepted) -> None:
    _custody(db, event, "accepted", unit=event.unit)


def returned(db: BatchWriter, event: TransferReturned) -> None:
    row = _lead(db, event.lead_id)
    _end_turn(db, row, event, "returned")
    _begin_turn(db, row, event, event.to_unit, "returned")
    row["holder"] = event.to_unit
    db.put(leads, row)
    _moment(db, event)
    _custody(db, event, "returned", unit=event.to_unit, note=event.reason)


def assigned(db: BatchWriter, event: ResponsibilityAssigned) -> None:
    row = _lead(db, event.lead_id)
    _begin_assignment(db, row, event)
    row.update(assignee=event.assignee, deadline=event.deadline)
    db.put(leads, row)
    _moment(db, event)
    _custody(
        db,
        event,
        "assigned",
        unit=event.unit,
        person=event.assignee,
        person_name=event.assignee_name,
        deadline=event.deadline,
        note=event.reason,
    )


def extended(db: BatchWriter, event: DeadlineExtended) -> None:
    row = _lead(db, event.lead_id)
    _move_deadline(db, row, event)
    row["deadline"] = event.deadline
    db.put(leads, row)
    _custody(db, event, "deadline_extended", deadline=event.deadline, note=event.reason)


def _missed(row: Row, _: DeadlineMissed) -> None:
    row["deadlines_missed"] = (row["deadlines_missed"] or 0) + 1


def concluded(db: BatchWriter, event: LeadConcluded) -> None:
    row = _lead(db, event.lead_id)
    _end_assignment(db, row, event, concluded=True)
    _change_turn(db, row, concluded_at=event.occurred_at)
    row.update(concluded_at=event.occurred_at, result=event.result.value)
    db.put(leads, row)
    _moment(db, event)


def answered(db: BatchWriter, event: FeedbackGiven) -> None:
    reported.answered(db, event)
    row = _lead(db, event.lead_id)
    if row["feedback_at"] is None:
        row["feedback_at"] = event.occurred_at
    turn = db.get(turns, row["turn"]) if row["turn"] else None
    if turn is not None and turn["answered_at"] is None:
        turn["answered_at"] = event.occurred_at
        db.put(turns, turn)
    db.put(leads, row)


def _archived(row: Row, event: LeadArchived) -> None:
    row["archived_at"] = event.occurred_at


def reopened(db: BatchWriter, event: LeadReopened) -> None:
    row = _lead(db, event.lead_id)
    # The look-back is the same unit's turn; the result it had is no longer one.
    _change_turn(db, row, concluded_at=None)
    row.update(concluded_at=None, result=None, archived_at=None)
    db.put(leads, row)


# --- oversight and directives ---------------------------------------------------------


def case_opened(db: BatchWriter, event: CaseOpened) -> None:
    if db.get(cases, event.case_id) is None:
        db.put(
            cases,
            {
                "case_id": event.case_id,
                "lead_id": event.lead_id,
                "umbrella": event.umbrella,
                "basis": event.basis,
                "status": "open",
                "opened_at": event.occurred_at,
                "linked_gang_lead": None,
                "outcome": None,
                "listed_deadline": None,
                "escalated": False,
                "updated_at": event.occurred_at,
            },
        )
        db.release_deferred(_case_key(event.case_id), lambda w: _HANDLERS[type(w)](db, w))
    _moment(db, event)


def _case_key(case_id: str) -> str:
    return f"case:{case_id}"


def _change_case(db: BatchWriter, case_id: str | None, event: Event, **values: Any) -> None:
    if case_id is None:
        return

    def change(row: Row) -> None:
        if "status" in values:
            values["status"] = max(
                row["status"], values["status"], key=CASE_STATUS_RANK.__getitem__
            )
        row.update(values, updated_at=max(as_utc(row["updated_at"]), event.occurred_at))

    # An event read before its case was opened is applied once the case is.
    db.change_or_defer(cases, case_id, event, change, wait_for=_case_key(case_id))


def linked(db: BatchWriter, event: UmbrellaLinked) -> None:
    _change_case(db, event.case_id, event, linked_gang_lead=event.gang_lead_id)


def _supervision(db: BatchWriter, event: Event, kind: str, **values: Any) -> None:
    db.put(
        supervisions,
        {
            "event_id": event.event_id,
            "lead_id": event.lead_id,
            "case_id": values.get("case_id"),
            "kind": kind,
            "rule": values.get("rule"),
            "unit": values.get("unit"),
            "deadline": values.get("deadline"),
            "level": values.get("level"),
            "reason": values.get("reason", ""),
            "at": event.occurred_at,
        },
    )
    _moment(db, event)


def supervised(db: BatchWriter, event: SupervisionOpened) -> None:
    _supervision(
        db, event, "supervision", case_id=event.case_id, rule=event.rule, reason=event.reason
    )
    _change_case(db, event.case_id, event, status="supervised")


def listed(db: BatchWriter, event: SupervisionListed) -> None:
    case_id = case_id_for(event.lead_id)
    _supervision(
        db,
        event,
        "listed",
        case_id=case_id,
        unit=event.unit,
        deadline=event.deadline,
        level=event.level,
    )
    _change_case(db, case_id, event, status="listed", listed_deadline=event.deadline)


def noticed(db: BatchWriter, event: SupervisionNoticed) -> None:
    db.put(
        notices,
        {
            "event_id": event.event_id,
            "supervision_id": event.causation_id,
            "lead_id": event.lead_id,
            "unit": event.unit,
            "at": event.occurred_at,
        },
    )


def escalated(db: BatchWriter, event: EscalatedToHigherLevel) -> None:
    _supervision(
        db, event, "escalated", case_id=event.case_id, unit=event.to_unit, reason=event.reason
    )
    _change_case(db, event.case_id, event, status="escalated", escalated=True)


def held_accountable(db: BatchWriter, event: AccountabilityRecorded) -> None:
    db.put(
        accountability,
        {
            "event_id": event.event_id,
            "case_id": event.case_id,
            "lead_id": event.lead_id,
            "person": event.person,
            "unit": event.unit,
            "kind": event.kind,
            "form": event.form,
            "reason": event.reason,
            "at": event.occurred_at,
        },
    )


def outcome(db: BatchWriter, event: DisciplineOutcome) -> None:
    # The lead's result comes with the ledger's own LeadConcluded; here only the case.
    _moment(db, event)
    _change_case(db, case_id_for(event.lead_id), event, status="closed", outcome=event.result.value)


# --- access ---------------------------------------------------------------------------


def _access(db: BatchWriter, event: Event | View, kind: str, service: str, purpose: str) -> None:
    db.put(
        access,
        {
            "event_id": event.event_id,
            "lead_id": event.lead_id,
            "at": event.occurred_at,
            "kind": kind,
            "service": service,
            "user": event.actor.user,
            "role": event.actor.role.value,
            "unit": event.actor.unit,
            "purpose": purpose,
        },
    )


def viewed(db: BatchWriter, event: LeadViewed) -> None:
    _access(db, event, "viewed", event.service, event.purpose)


def viewed_together(db: BatchWriter, event: LeadsViewed) -> None:
    # Each view is the LeadViewed it stands for, under that event's id.
    for view in event.views:
        _access(db, view, "viewed", event.service, view.purpose)


def exported(db: BatchWriter, event: LedgerExported) -> None:
    filters = ", ".join(f"{k}={v}" for k, v in sorted(event.filters.items()))
    _access(db, event, "exported", event.service, f"{event.row_count} rows; {filters}".strip("; "))


_HANDLERS: dict[type[Event], Handler] = {
    LeadReported: report,
    LeadSupplemented: reported.supplemented,
    ReporterMessagePosted: reported.message_posted,
    DuplicateSuspected: duplicate,
    IdentityDisclosed: disclosed,
    IdentityAccessRequested: identity_requested,
    IdentityAccessApproved: identity_approved,
    IdentityAccessRefused: identity_refused,
    LeadRegistered: registered,
    LeadTransferred: transferred,
    TransferAccepted: accepted,
    TransferReturned: returned,
    ResponsibilityAssigned: assigned,
    DeadlineExtended: extended,
    DeadlineMissed: _change_lead(_missed),
    LeadConcluded: concluded,
    FeedbackGiven: answered,
    LeadArchived: _change_lead(_archived),
    LeadReopened: reopened,
    CaseOpened: case_opened,
    UmbrellaLinked: linked,
    SupervisionOpened: supervised,
    SupervisionListed: listed,
    SupervisionNoticed: noticed,
    EscalatedToHigherLevel: escalated,
    AccountabilityRecorded: held_accountable,
    DisciplineOutcome: outcome,
    LeadViewed: viewed,
    LeadsViewed: viewed_together,
    LedgerExported: exported,
    **tasks.HANDLERS,
}

PROJECTION = Projection(
    name="oversight",
    metadata=metadata,
    handlers={cls.type_name(): handler for cls, handler in _HANDLERS.items()},
    version=VERSION,
)

SUBSCRIPTIONS = tuple(
    Subscription(PROJECTION, stream)
    for stream in (Stream.INTAKE, Stream.LEDGER, Stream.OVERSIGHT, Stream.DIRECTIVES, Stream.AUDIT)
)
