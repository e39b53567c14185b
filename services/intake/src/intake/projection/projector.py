"""Pure handlers folding intake's own events, and the ledger's progress and feedback, into
what the receipt holder sees; and the ledger's filing and transfers into what decides who
may read the lead (common.visibility)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from common.batchwriter import BatchWriter, Row
from common.database import as_utc
from common.events import Event
from common.events.catalogue import (
    DuplicateSuspected,
    FeedbackGiven,
    IdentityShredded,
    LeadArchived,
    LeadConcluded,
    LeadRegistered,
    LeadReopened,
    LeadReported,
    LeadSupplemented,
    LeadTransferred,
    ReporterKind,
    ReporterMessagePosted,
    ResponsibilityAssigned,
    TransferAccepted,
    VerificationRecorded,
)
from common.projection import Handler, Projection, Subscription
from common.subjects import Stream
from common.visibility import joined, units_of
from intake.projection.tables import VERSION, feedback, metadata, receipts, reports

E = TypeVar("E", bound=Event)


class Progress:
    """What a reporter is told of their lead's progress (labels in intake.api)."""

    RECEIVED = "received"
    REGISTERED = "registered"
    IN_HAND = "in_hand"
    CONCLUDED = "concluded"
    ANSWERED = "answered"
    CLOSED = "closed"


def reported(db: BatchWriter, event: LeadReported) -> None:
    db.put(
        reports,
        {
            "lead_id": event.lead_id,
            "channel": event.channel.value,
            "category": event.category.value,
            "village": event.village,
            "named": event.reporter.kind is ReporterKind.NAMED,
            "reported_at": event.occurred_at,
            "progress": Progress.RECEIVED,
            "ledger_number": None,
            "supplements": 0,
            "messages": 0,
            "duplicate_of": None,
            "archived_at": None,
            "identity_shredded": False,
            "updated_at": event.occurred_at,
            "entered_by": event.actor.unit,
            "filed_village": None,
            "for_committee": False,
            "units": "",
        },
    )
    if event.receipt_hash:
        db.put(receipts, {"receipt_hash": event.receipt_hash, "lead_id": event.lead_id})
    db.release_deferred(event.lead_id, lambda waiting: _HANDLERS[type(waiting)](db, waiting))


def _change_report(db: BatchWriter, event: E, change: Callable[[Row, E], None]) -> None:
    """Change the report's row; the ledger's news of a report intake has not read yet (the
    two streams are read side by side) is applied once the report is in."""

    def apply(row: Row) -> None:
        change(row, event)
        row["updated_at"] = max(as_utc(row["updated_at"]), event.occurred_at)

    lead_id = event.lead_id or ""
    db.change_or_defer(reports, lead_id, event, apply, wait_for=lead_id)


def _on_report(change: Callable[[Row, E], None]) -> Callable[[BatchWriter, E], None]:
    def handle(db: BatchWriter, event: E) -> None:
        _change_report(db, event, change)

    return handle


def _progress(value: str) -> Callable[[Row, Event], None]:
    def change(row: Row, _: Event) -> None:
        row["progress"] = value

    return change


def _supplemented(row: Row, _: LeadSupplemented) -> None:
    row["supplements"] += 1


def _message(row: Row, _: ReporterMessagePosted) -> None:
    row["messages"] += 1


def _duplicate(row: Row, event: DuplicateSuspected) -> None:
    row["duplicate_of"] = event.duplicate_of


def _shredded(row: Row, _: IdentityShredded) -> None:
    row["identity_shredded"] = True


def _registered(row: Row, event: LeadRegistered) -> None:
    # The units as the ledger's lead_units: the one it was filed to, then each transfer's.
    row.update(
        progress=Progress.REGISTERED,
        ledger_number=event.ledger_number,
        filed_village=event.village,
        for_committee=event.for_committee,
        units=joined(sorted(units_of(row["units"]) | {event.unit})),
    )


def _transferred(row: Row, event: LeadTransferred) -> None:
    row.update(
        progress=Progress.IN_HAND,
        units=joined(sorted(units_of(row["units"]) | {event.to_unit})),
    )


def _archived(row: Row, event: LeadArchived) -> None:
    row.update(progress=Progress.CLOSED, archived_at=event.occurred_at)


def _reopened(row: Row, _: LeadReopened) -> None:
    row.update(progress=Progress.IN_HAND, archived_at=None)


def answered(db: BatchWriter, event: FeedbackGiven) -> None:
    def answer(row: Row, _: FeedbackGiven) -> None:
        db.put(
            feedback,
            {
                "event_id": event.event_id,
                "lead_id": event.lead_id,
                "text": event.text,
                "given_at": event.occurred_at,
            },
        )
        row["progress"] = Progress.ANSWERED

    _change_report(db, event, answer)


_HANDLERS: dict[type[Event], Handler] = {
    LeadReported: reported,
    LeadSupplemented: _on_report(_supplemented),
    ReporterMessagePosted: _on_report(_message),
    DuplicateSuspected: _on_report(_duplicate),
    IdentityShredded: _on_report(_shredded),
    LeadRegistered: _on_report(_registered),
    LeadTransferred: _on_report(_transferred),
    TransferAccepted: _on_report(_progress(Progress.IN_HAND)),
    ResponsibilityAssigned: _on_report(_progress(Progress.IN_HAND)),
    VerificationRecorded: _on_report(_progress(Progress.IN_HAND)),
    LeadConcluded: _on_report(_progress(Progress.CONCLUDED)),
    FeedbackGiven: answered,
    LeadArchived: _on_report(_archived),
    LeadReopened: _on_report(_reopened),
}

PROJECTION = Projection(
    name="intake",
    metadata=metadata,
    version=VERSION,
    handlers={cls.type_name(): handler for cls, handler in _HANDLERS.items()},
)

SUBSCRIPTIONS = (
    Subscription(PROJECTION, Stream.INTAKE),
    # For the reporter: progress and feedback. Ledger events without a handler here are
    # passed over without being decoded.
    Subscription(PROJECTION, Stream.LEDGER),
)
