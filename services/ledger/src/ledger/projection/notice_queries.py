"""Reads of the notices' read model: the facts a draft cites for a unit and a period, the
notices a reader may see, one notice. Plain functions of a synchronous connection, run on
a worker thread by the application (as the ledger's reads are)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from common.events.notices import NoticeFacts
from ledger.domain.notice_facts import Fact, gather, period_bounds
from ledger.projection.notices import facts, notices


def facts_for(conn: Connection, unit: str, period_from: date, period_to: date) -> NoticeFacts:
    """What the ledger recorded against ``unit`` in the period, oldest first."""
    start, end = period_bounds(period_from, period_to)
    rows = conn.execute(
        select(facts.c.kind, facts.c.lead_id, facts.c.happened_at)
        .where(
            (facts.c.unit == unit) & (facts.c.happened_at >= start) & (facts.c.happened_at < end)
        )
        .order_by(facts.c.happened_at, facts.c.fact)
    ).all()
    return gather(Fact(kind=r.kind, lead_id=r.lead_id, at=r.happened_at) for r in rows)


def _row(found: Any) -> dict[str, Any]:
    row = dict(found._mapping)
    row["facts"] = json.loads(row["facts"])
    return row


def listed(
    conn: Connection,
    statuses: frozenset[str],
    *,
    units: frozenset[str] | None,
    unit: str | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """Notices in one of ``statuses`` about one of ``units`` (None: any), those the reader
    may see, latest change first."""
    query = select(notices).where(notices.c.status.in_(sorted(statuses)))
    if units is not None:
        query = query.where(notices.c.unit.in_(sorted(units)))
    if unit is not None:
        query = query.where(notices.c.unit == unit)
    if kind is not None:
        query = query.where(notices.c.kind == kind)
    query = query.order_by(notices.c.updated_at.desc(), notices.c.notice_id)
    return [_row(r) for r in conn.execute(query.limit(limit).offset(offset))]


def one(conn: Connection, notice_id: str) -> dict[str, Any] | None:
    found = conn.execute(select(notices).where(notices.c.notice_id == notice_id)).first()
    return _row(found) if found is not None else None
