"""The notices the office issued (通报), as the committee keeps them, with the
accountability it attached to each. A projection of its own, fed by LEDGER (NoticeIssued)
and OVERSIGHT (the committee's decisions), rebuilt by replay like the rest; a draft never
reaches it."""

from __future__ import annotations

from typing import Final

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

from common.batchwriter import BatchWriter
from common.database import UtcDateTime
from common.events.notices import NoticeAccountabilityRecorded, NoticeIssued
from common.notice_rows import content_columns, content_of
from common.projection import Projection

VERSION: Final = 1
metadata = MetaData()

issued_notices = Table(
    "oversight_issued_notices",
    metadata,
    Column("notice_id", String(64), primary_key=True),
    *content_columns(),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("issued_by", String(64)),
    Index("ix_oversight_issued_notices_kind", "kind", "issued_at"),
)

notice_accountability = Table(
    "oversight_notice_accountability",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("notice_id", String(64), nullable=False, index=True),
    Column("person", String(100), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("form", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("decided_by", String(64)),
    Column("at", UtcDateTime, nullable=False),
)


def _issued(db: BatchWriter, event: NoticeIssued) -> None:
    db.put(
        issued_notices,
        {
            "notice_id": event.notice_id,
            **content_of(event),
            "issued_at": event.occurred_at,
            "issued_by": event.actor.user,
        },
    )


def _accountable(db: BatchWriter, event: NoticeAccountabilityRecorded) -> None:
    db.put(
        notice_accountability,
        {
            "event_id": event.event_id,
            "notice_id": event.notice_id,
            "person": event.person,
            "unit": event.unit,
            "kind": event.kind,
            "form": event.form,
            "reason": event.reason,
            "decided_by": event.actor.user,
            "at": event.occurred_at,
        },
    )


PROJECTION: Final = Projection(
    name="notices",
    metadata=metadata,
    version=VERSION,
    handlers={
        NoticeIssued.type_name(): _issued,
        NoticeAccountabilityRecorded.type_name(): _accountable,
    },
)
