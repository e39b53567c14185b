"""A notice's content (通报) as a row keeps it: the ledger's read model of notices and the
committee's of issued ones hold the same columns, filled from the same events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Date, String, Text

from common.events.notices import LONGEST_TITLE, NoticeDrafted, NoticeIssued


def content_columns() -> list[Column[Any]]:
    """New columns (a column belongs to one table) for a notice's kind, unit, period, text
    and facts (NoticeFacts as JSON: the counts and the leads cited)."""
    return [
        Column("kind", String(20), nullable=False),
        Column("unit", String(40), nullable=False),
        Column("period_from", Date, nullable=False),
        Column("period_to", Date, nullable=False),
        Column("title", String(LONGEST_TITLE), nullable=False),
        Column("body", Text, nullable=False),
        Column("facts", Text, nullable=False),
    ]


def content_of(event: NoticeDrafted | NoticeIssued) -> dict[str, Any]:
    """The values of :func:`content_columns` an event gives."""
    return {
        "kind": event.kind,
        "unit": event.unit,
        "period_from": event.period_from,
        "period_to": event.period_to,
        "title": event.title,
        "body": event.body,
        "facts": event.facts.model_dump_json(),
    }
