"""Reads of the issued notices the committee keeps, each with its accountability."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from oversight.projection.notices import issued_notices, notice_accountability
from oversight.projection.scope import Towns, units_in


def _with_accountability(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [r["notice_id"] for r in rows]
    decided: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        found = conn.execute(
            select(notice_accountability)
            .where(notice_accountability.c.notice_id.in_(ids))
            .order_by(notice_accountability.c.at, notice_accountability.c.event_id)
        )
        for row in found.mappings():
            decided[row["notice_id"]].append(dict(row))
    return [
        {**r, "facts": json.loads(r["facts"]), "accountability": decided[r["notice_id"]]}
        for r in rows
    ]


def issued(
    conn: Connection, towns: Towns, kind: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Issued notices about units of ``towns``, latest first (of one kind if given), with
    their accountability."""
    query = select(issued_notices).where(units_in(towns, issued_notices.c.unit))
    if kind is not None:
        query = query.where(issued_notices.c.kind == kind)
    query = query.order_by(issued_notices.c.issued_at.desc(), issued_notices.c.notice_id)
    rows = [dict(r) for r in conn.execute(query.limit(limit).offset(offset)).mappings()]
    return _with_accountability(conn, rows)


def one(conn: Connection, notice_id: str, towns: Towns) -> dict[str, Any] | None:
    """The notice, if it is about a unit of ``towns``."""
    found = (
        conn.execute(
            select(issued_notices).where(
                issued_notices.c.notice_id == notice_id, units_in(towns, issued_notices.c.unit)
            )
        )
        .mappings()
        .first()
    )
    return _with_accountability(conn, [dict(found)])[0] if found is not None else None
