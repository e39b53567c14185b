"""The notices' read model (通报): each notice as it stands, and the facts of the ledger a
notice cites, recorded as they happen, against the unit holding the lead then.

A projection of its own, beside the ledger's, fed by LEDGER alone and rebuilt by replay
like it: a notice's facts are what the unit did at the time, which the ledger's rows (the
lead as it stands now) no longer say. The rules of which facts count are
:mod:`ledger.domain.notice_facts`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from sqlalchemy import Column, Index, MetaData, String, Table, Text

from common.batchwriter import BatchWriter, Row
from common.database import UtcDateTime, as_utc
from common.events import Event
from common.events.catalogue import (
    DeadlineExtended,
    DeadlineMissed,
    FeedbackGiven,
    LeadRegistered,
    LeadReopened,
    LeadTransferred,
    ResponsibilityAssigned,
    TransferReturned,
)
from common.events.notices import (
    NoticeDrafted,
    NoticeIssued,
    NoticeRevised,
    NoticeWithdrawn,
)
from common.notice_rows import content_columns, content_of
from common.projection import Handler, Projection
from ledger.domain.notice import NoticeStatus
from ledger.domain.notice_facts import (
    LATE_ANSWER,
    OVERDUE,
    RETURN,
    FactKind,
    answered_late,
    fact_key,
)

VERSION: Final = 1
metadata = MetaData()

notices = Table(
    "ledger_notices",
    metadata,
    Column("notice_id", String(64), primary_key=True),
    Column("status", String(20), nullable=False),
    *content_columns(),
    Column("drafted_at", UtcDateTime, nullable=False),
    Column("drafted_by", String(64)),
    Column("issued_at", UtcDateTime),
    Column("issued_by", String(64)),
    Column("withdrawn_at", UtcDateTime),
    Column("withdrawn_reason", Text),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_ledger_notices_status", "status", "updated_at"),
)

# One row per fact a notice may cite (ledger.domain.notice_facts.fact_key).
facts = Table(
    "ledger_notice_facts",
    metadata,
    Column("fact", String(200), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("lead_id", String(64), nullable=False),
    # named apart from the committee's "at": the ledger holds no column of oversight's
    Column("happened_at", UtcDateTime, nullable=False),
    Index("ix_ledger_notice_facts_unit", "unit", "happened_at"),
)

# Who holds each lead and the deadline in force: what a fact is counted against.
holders = Table(
    "ledger_notice_holders",
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("unit", String(40), nullable=False),
    Column("deadline", UtcDateTime),
)

E = TypeVar("E", bound=Event)


def _fact(db: BatchWriter, kind: FactKind, unit: str, lead_id: str, ref: str, at: Any) -> None:
    key = fact_key(kind, lead_id, ref)
    if db.get(facts, key) is None:  # the first time counts; a later one is the same fault
        db.put(
            facts,
            {"fact": key, "kind": kind, "unit": unit, "lead_id": lead_id, "happened_at": at},
        )


def _on_row(
    table: Table, key_of: Callable[[Any], str]
) -> Callable[[Callable[[Row, E], None]], Callable[[BatchWriter, E], None]]:
    """A handler changing the row of ``table`` the event names; an event of a row that does
    not exist (a lead never registered, a notice never drafted) changes nothing."""

    def changing(change: Callable[[Row, E], None]) -> Callable[[BatchWriter, E], None]:
        def handle(db: BatchWriter, event: E) -> None:
            row = db.get(table, key_of(event))
            if row is not None:
                change(row, event)
                db.put(table, row)

        return handle

    return changing


_on_holder = _on_row(holders, lambda event: event.lead_id or "")


def _registered(db: BatchWriter, event: LeadRegistered) -> None:
    db.put(holders, {"lead_id": event.lead_id, "unit": event.unit, "deadline": None})


def _transferred(row: Row, event: LeadTransferred) -> None:
    row.update(unit=event.to_unit, deadline=None)


def _assigned(row: Row, event: ResponsibilityAssigned) -> None:
    row.update(unit=event.unit, deadline=event.deadline)


def _extended(row: Row, event: DeadlineExtended) -> None:
    row["deadline"] = event.deadline


def _reopened(row: Row, event: LeadReopened) -> None:
    row["deadline"] = None


def _sent_back(row: Row, event: TransferReturned) -> None:
    row["unit"] = event.to_unit


_returned_to = _on_holder(_sent_back)


def _returned(db: BatchWriter, event: TransferReturned) -> None:
    _fact(db, RETURN, event.unit, event.lead_id, event.event_id, event.occurred_at)
    _returned_to(db, event)


def _missed(db: BatchWriter, event: DeadlineMissed) -> None:
    _fact(db, OVERDUE, event.unit, event.lead_id, event.deadline.isoformat(), event.deadline)


def _answered(db: BatchWriter, event: FeedbackGiven) -> None:
    row = db.get(holders, event.lead_id)
    # A row read back from SQLite by the batch writer has lost its zone (stored in UTC).
    deadline = as_utc(row["deadline"]) if row is not None else None
    if row is None or deadline is None or not answered_late(event.occurred_at, deadline):
        return
    _fact(db, LATE_ANSWER, row["unit"], event.lead_id, deadline.isoformat(), event.occurred_at)


def _drafted(db: BatchWriter, event: NoticeDrafted) -> None:
    row: Row = {c.name: None for c in notices.columns}
    row.update(
        content_of(event),
        notice_id=event.notice_id,
        status=NoticeStatus.DRAFT.value,
        updated_at=event.occurred_at,
        drafted_at=event.occurred_at,
        drafted_by=event.actor.user,
    )
    db.put(notices, row)


def _on_notice(change: Callable[[Row, E], None]) -> Callable[[BatchWriter, E], None]:
    def stamped(row: Row, event: E) -> None:
        change(row, event)
        row["updated_at"] = event.occurred_at

    return _on_row(notices, lambda event: getattr(event, "notice_id", ""))(stamped)


def _revised(row: Row, event: NoticeRevised) -> None:
    row.update(kind=event.kind, title=event.title, body=event.body)


def _issued(row: Row, event: NoticeIssued) -> None:
    row.update(
        content_of(event),
        status=NoticeStatus.ISSUED.value,
        issued_at=event.occurred_at,
        issued_by=event.actor.user,
    )


def _withdrawn(row: Row, event: NoticeWithdrawn) -> None:
    row.update(
        status=NoticeStatus.WITHDRAWN.value,
        withdrawn_at=event.occurred_at,
        withdrawn_reason=event.reason,
    )


_HANDLERS: dict[type[Event], Handler] = {
    LeadRegistered: _registered,
    LeadTransferred: _on_holder(_transferred),
    TransferReturned: _returned,
    ResponsibilityAssigned: _on_holder(_assigned),
    DeadlineExtended: _on_holder(_extended),
    LeadReopened: _on_holder(_reopened),
    DeadlineMissed: _missed,
    FeedbackGiven: _answered,
    NoticeDrafted: _drafted,
    NoticeRevised: _on_notice(_revised),
    NoticeIssued: _on_notice(_issued),
    NoticeWithdrawn: _on_notice(_withdrawn),
}


def notices_projection() -> Projection:
    """The notices and the facts they cite, fed by the LEDGER stream."""
    return Projection(
        name="notices",
        metadata=metadata,
        version=VERSION,
        handlers={cls.type_name(): handler for cls, handler in _HANDLERS.items()},
    )


PROJECTION: Final = notices_projection()
