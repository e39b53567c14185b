"""Pure handlers that fold ledger events, oversight directives and what intake recorded
into the ledger tables.

Driven by the live consumer and by ``leadctl replay`` alike. A lead's row is changed in
place through the batch writer and written once per batch. Intake's events are folded by
:mod:`ledger.projection.reported`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from common.batchwriter import BatchWriter, Row
from common.database import as_utc
from common.events import Event
from common.events.catalogue import (
    DeadlineExtended,
    DeadlineMissed,
    DuplicateSuspected,
    FeedbackGiven,
    LeadArchived,
    LeadConcluded,
    LeadRegistered,
    LeadReopened,
    LeadReported,
    LeadSupplemented,
    LeadTransferred,
    ReporterMessagePosted,
    ResponsibilityAssigned,
    SupervisionListed,
    SupervisionNoticed,
    TransferAccepted,
    TransferReturned,
    VerificationRecorded,
)
from common.projection import Handler, Projection
from common.vocabulary import LeadStatus
from ledger.projection import counting, reported, tasks
from ledger.projection.search import doc_number
from ledger.projection.tables import VERSION, lead_units, leads, metadata

E = TypeVar("E", bound=Event)

# The stored texts of the statuses, looked up once: an enum's ``.value`` is a Python-level
# property, and a rebuild would call it for nearly every event.
_ACCEPTED = LeadStatus.ACCEPTED.value
_ANSWERED = LeadStatus.ANSWERED.value
_ARCHIVED = LeadStatus.ARCHIVED.value
_ASSIGNED = LeadStatus.ASSIGNED.value
_CONCLUDED = LeadStatus.CONCLUDED.value
_REGISTERED = LeadStatus.REGISTERED.value
_REOPENED = LeadStatus.REOPENED.value
_RETURNED = LeadStatus.RETURNED.value
_TRANSFERRED = LeadStatus.TRANSFERRED.value
_VERIFYING = LeadStatus.VERIFYING.value


def _on_lead(fold: Callable[[Row, E], None]) -> Callable[[BatchWriter, E], None]:
    """A handler changing an existing lead row. An event for a lead the ledger never
    registered changes nothing."""

    def handle(db: BatchWriter, event: E) -> None:
        # BatchWriter.change_or_defer, unrolled: this runs for most events of a rebuild.
        lead_id = event.lead_id or ""
        row = db.get(leads, lead_id)
        if row is None:
            # A directive read before the lead's registration (the streams are read side
            # by side) is applied once the lead is filed.
            db.defer(lead_id, event)
            return
        fold(row, event)
        _later(row, event)
        db.put(leads, row)

    return handle


def _later(row: Row, event: Event) -> None:
    # Directives arrive on their own stream, beside the ledger's: never go back in time.
    if event.occurred_at > as_utc(row["updated_at"]):
        row["updated_at"] = event.occurred_at


# A new lead's row starts from the columns' defaults.
_NEW_ROW: dict[str, Any] = {c.name: getattr(c.default, "arg", None) for c in leads.columns}


def registered(db: BatchWriter, event: LeadRegistered) -> None:
    row = _NEW_ROW.copy()
    row.update(
        lead_id=event.lead_id,
        ledger_number=event.ledger_number,
        registered_at=event.occurred_at,
        reported_at=event.reported_at,
        channel=event.channel.value,
        category=event.category.value,
        village=event.village,
        summary=event.summary,
        flags=",".join(flag.value for flag in event.flags),
        for_committee=event.for_committee,
        status=_REGISTERED,
        unit=event.unit,
        units=event.unit,
        updated_at=event.occurred_at,
    )
    db.put(leads, row)
    db.put(lead_units, {"lead_id": event.lead_id, "unit": event.unit})
    counting.move(db, None, counting.where(row))
    # Its text (intake's report, read first or not) is searched from now on, in its place.
    reported.filed(db, event.lead_id, doc_number(event.occurred_at, event.ledger_number))
    db.release_deferred(event.lead_id, lambda waiting: _apply(db, waiting))


def _recounted(fold: Callable[[Row, E], None]) -> Callable[[BatchWriter, E], None]:
    """A handler of a change that moves the lead between the counts (its unit)."""

    def handle(db: BatchWriter, event: E) -> None:
        lead_id = event.lead_id or ""
        row = db.get(leads, lead_id)
        if row is None:
            db.defer(lead_id, event)  # as _on_lead's
            return
        before, units = counting.where(row), row["units"]
        fold(row, event)
        _later(row, event)
        db.put(leads, row)
        counting.move(db, before, counting.where(row))
        if row["units"] != units:
            # Only a unit it was not handed to before: the others have their row.
            known = set(units.split(",")) if units else set()
            for unit in counting.units_of(row):
                if unit not in known:
                    db.put(lead_units, {"lead_id": lead_id, "unit": unit})

    return handle


def _transferred(row: Row, event: LeadTransferred) -> None:
    units = counting.units_of(row)
    if event.to_unit not in units:
        row["units"] = ",".join([*units, event.to_unit])
    row.update(
        status=_TRANSFERRED,
        transferred_from=event.from_unit,
        unit=event.to_unit,
        assignee=None,
        assignee_name=None,
        deadline=None,
        deadline_missed=False,
    )


def _accepted(row: Row, event: TransferAccepted) -> None:
    row["status"] = _ACCEPTED


def _returned(row: Row, event: TransferReturned) -> None:
    row.update(status=_RETURNED, unit=event.to_unit, transferred_from=event.unit)


def _assigned(row: Row, event: ResponsibilityAssigned) -> None:
    row.update(
        status=_ASSIGNED,
        assignee=event.assignee,
        assignee_name=event.assignee_name,
        deadline=event.deadline,
        deadline_missed=False,
    )


def _extended(row: Row, event: DeadlineExtended) -> None:
    row.update(deadline=event.deadline, deadline_missed=False)


def _verified(row: Row, event: VerificationRecorded) -> None:
    row.update(status=_VERIFYING, verification_count=row["verification_count"] + 1)


def _concluded(row: Row, event: LeadConcluded) -> None:
    row.update(
        status=_CONCLUDED,
        conclusion=event.result.value,
        conclusion_summary=event.summary,
        concluded_at=event.occurred_at,
    )


def _answered(row: Row, event: FeedbackGiven) -> None:
    # An answer before the result is a progress note to the reporter: the status stays.
    if row["conclusion"] is not None:
        row["status"] = _ANSWERED
    row.update(feedback=event.text, feedback_at=event.occurred_at)


def _archived(row: Row, event: LeadArchived) -> None:
    row.update(status=_ARCHIVED, archived_at=event.occurred_at)


def _reopened(row: Row, event: LeadReopened) -> None:
    # A look-back review needs a new result and a new answer; the old ones stay in the log.
    row.update(
        status=_REOPENED,
        archived_at=None,
        conclusion=None,
        conclusion_summary=None,
        concluded_at=None,
        feedback=None,
        feedback_at=None,
        # The old deadline is settled (met or missed); the review gets a deadline of its own.
        deadline=None,
        deadline_missed=False,
        reopened_count=row["reopened_count"] + 1,
    )


def _missed(row: Row, event: DeadlineMissed) -> None:
    row["deadline_missed"] = True


def _listed(row: Row, event: SupervisionListed) -> None:
    row.update(supervision_deadline=event.deadline, supervision_level=event.level)


def _noticed(row: Row, event: SupervisionNoticed) -> None:
    row.update(
        supervised_at=event.occurred_at,
        supervision_reason=event.reason,
        supervision_rule=event.rule,
    )


_answer_on_row = _on_lead(_answered)


def answered(db: BatchWriter, event: FeedbackGiven) -> None:
    reported.answered(db, event)
    _answer_on_row(db, event)


_HANDLERS: dict[type[Event], Handler] = {
    LeadRegistered: registered,
    LeadTransferred: _recounted(_transferred),
    TransferAccepted: _on_lead(_accepted),
    TransferReturned: _recounted(_returned),
    ResponsibilityAssigned: _on_lead(_assigned),
    DeadlineExtended: _on_lead(_extended),
    VerificationRecorded: _on_lead(_verified),
    LeadConcluded: _on_lead(_concluded),
    FeedbackGiven: answered,
    LeadArchived: _on_lead(_archived),
    LeadReopened: _on_lead(_reopened),
    DeadlineMissed: _on_lead(_missed),
    SupervisionListed: _on_lead(_listed),
    SupervisionNoticed: _on_lead(_noticed),
    LeadReported: reported.reported,
    LeadSupplemented: reported.supplemented,
    ReporterMessagePosted: reported.message_posted,
    DuplicateSuspected: reported.duplicate_suspected,
    **tasks.HANDLERS,
}


def _apply(db: BatchWriter, event: Event) -> None:
    _HANDLERS[type(event)](db, event)


def ledger_projection() -> Projection:
    """The ledger's read model, fed by the LEDGER, DIRECTIVES and INTAKE streams."""
    return Projection(
        name="ledger",
        metadata=metadata,
        version=VERSION,
        handlers={cls.type_name(): handler for cls, handler in _HANDLERS.items()},
    )
