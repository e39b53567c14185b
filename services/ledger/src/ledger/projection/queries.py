"""Reads of the ledger: lists with filters and paging, scoped to what the reader may see."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from common.auth import Principal
from common.database import as_utc
from common.events import Role
from common.projection import projection_positions
from common.times import CHINA
from ledger.projection.tables import lead_units, leads

# Roles that see the whole ledger; the others see their own part of it.
WHOLE_LEDGER = frozenset({Role.OFFICE, Role.CLERK, Role.AUDITOR, Role.ADMIN})
READERS = frozenset({*WHOLE_LEDGER, Role.SCREENER, Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE})


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """A screener sees their village's leads; police, judicial and discipline the leads
    handed to their unit; the office, clerks and auditors all of them.

    The one rule of who may see a lead: every list, every read and every command on a lead
    goes through it (commands through :func:`one`)."""
    if principal.role in WHOLE_LEDGER:
        return true()
    if principal.role is Role.SCREENER:
        # Not the leads the ledger routed to the committee (the decision it recorded when
        # it filed them): a village screener may live next door to the official concerned.
        return (leads.c.village == principal.unit) & leads.c.for_committee.is_(False)
    if principal.role in (Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE):
        return exists().where(
            (lead_units.c.lead_id == leads.c.lead_id) & (lead_units.c.unit == principal.unit)
        )
    return false()


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    unit: str | None = None
    village: str | None = None
    category: str | None = None
    channel: str | None = None
    assignee: str | None = None
    overdue: bool | None = None
    registered_from: datetime | None = None
    registered_to: datetime | None = None

    def where(self, now: datetime) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        for name in ("status", "unit", "village", "category", "channel", "assignee"):
            value = getattr(self, name)
            if value is not None:
                conditions.append(leads.c[name] == value)
        if self.overdue is not None:
            late = (
                leads.c.deadline.is_not(None)
                & (leads.c.deadline < now)
                & leads.c.conclusion.is_(None)
                & leads.c.archived_at.is_(None)
            )
            conditions.append(late if self.overdue else ~late)
        if self.registered_from is not None:
            conditions.append(leads.c.registered_at >= self.registered_from)
        if self.registered_to is not None:
            conditions.append(leads.c.registered_at < self.registered_to)
        return and_(true(), *conditions)

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v is not None}


def _listing(principal: Principal, filters: Filters, now: datetime) -> Select[Any]:
    return select(leads).where(visible_to(principal) & filters.where(now))


async def page(
    conn: AsyncConnection,
    principal: Principal,
    filters: Filters,
    now: datetime,
    number: int,
    size: int,
) -> tuple[int, list[dict[str, Any]]]:
    query = _listing(principal, filters, now)
    total = (await conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await conn.execute(
        query.order_by(leads.c.registered_at.desc(), leads.c.ledger_number.desc())
        .limit(size)
        .offset((number - 1) * size)
    )
    return int(total), [dict(r._mapping) for r in rows]


async def all_rows(
    conn: AsyncConnection, principal: Principal, filters: Filters, now: datetime
) -> list[dict[str, Any]]:
    rows = await conn.execute(_listing(principal, filters, now).order_by(leads.c.ledger_number))
    return [dict(r._mapping) for r in rows]


async def one(conn: AsyncConnection, principal: Principal, lead_id: str) -> dict[str, Any] | None:
    """The lead's row, or None when there is no such lead or the principal may not see it
    (the two are never told apart)."""
    row = (
        await conn.execute(
            select(leads).where(visible_to(principal) & (leads.c.lead_id == lead_id))
        )
    ).first()
    return dict(row._mapping) if row is not None else None


async def applied_position(conn: AsyncConnection, projection: str, stream: str) -> int:
    """The last sequence of ``stream`` the read model has applied."""
    value = (
        await conn.execute(
            select(projection_positions.c.sequence).where(
                (projection_positions.c.projection == projection)
                & (projection_positions.c.stream == stream)
            )
        )
    ).scalar()
    return int(value or 0)


async def unanswered(
    conn: AsyncConnection, principal: Principal, older_than: timedelta, now: datetime
) -> list[dict[str, Any]]:
    """Leads filed before the cut-off with neither an answer to the reporter nor a result
    (条条有回音，件件有结果)."""
    rows = await conn.execute(
        select(leads)
        .where(
            visible_to(principal)
            & (leads.c.registered_at < now - older_than)
            & leads.c.archived_at.is_(None)
            & or_(leads.c.feedback_at.is_(None), leads.c.conclusion.is_(None))
        )
        .order_by(leads.c.registered_at)
    )
    return [dict(r._mapping) for r in rows]


async def due_deadlines(conn: AsyncConnection, now: datetime) -> list[str]:
    rows = await conn.execute(
        select(leads.c.lead_id).where(
            leads.c.deadline.is_not(None)
            & (leads.c.deadline < now)
            & leads.c.conclusion.is_(None)
            & leads.c.archived_at.is_(None)
            & leads.c.deadline_missed.is_(False)
        )
    )
    return [r.lead_id for r in rows]


async def statistics(conn: AsyncConnection, principal: Principal) -> dict[str, dict[str, int]]:
    """Counts by village, unit, category and month of filing (China time)."""
    rows = await conn.execute(
        select(leads.c.village, leads.c.unit, leads.c.category, leads.c.registered_at).where(
            visible_to(principal)
        )
    )
    by: dict[str, Counter[str]] = {k: Counter() for k in ("village", "unit", "category", "month")}
    for row in rows:
        by["village"][row.village or "-"] += 1
        by["unit"][row.unit] += 1
        by["category"][row.category] += 1
        by["month"][as_utc(row.registered_at).astimezone(CHINA).strftime("%Y-%m")] += 1
    return {k: dict(sorted(v.items())) for k, v in by.items()}
