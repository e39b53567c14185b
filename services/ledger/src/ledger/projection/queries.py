"""Reads of the ledger: lists with filters, search and paging, one lead by id or by ledger
number, what was reported and the exchange with the reporter; all scoped to what the
reader may see.

The reads are plain functions of a synchronous connection: a read of the API runs all its
queries in one go on a worker thread (ledger.application.reading), since the SQLite
driver for asyncio pays a thread hand-off for every statement and fetch and served a
tenth of the reads. Callers on an asyncio connection use the ``async`` ones, which run
the same functions through ``AsyncConnection.run_sync``."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from common.auth import Principal
from common.database import as_utc
from common.events import Role
from common.projection import projection_positions
from ledger.projection.search import matching
from ledger.projection.tables import duplicates, lead_units, leads, reports, thread

# The township's clock: China has kept UTC+8 all year since 1991.
CHINA_ZONE = "Asia/Shanghai"

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
    ledger_number: str | None = None
    #: text the lead's summary, details or later additions contain (three characters or more)
    q: str | None = None

    def where(self, now: datetime, dialect: str) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = []
        for name in (
            "status",
            "unit",
            "village",
            "category",
            "channel",
            "assignee",
            "ledger_number",
        ):
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
            conditions.append(late if self.overdue else ~late)  # as is_overdue says of a row
        if self.registered_from is not None:
            conditions.append(leads.c.registered_at >= self.registered_from)
        if self.registered_to is not None:
            conditions.append(leads.c.registered_at < self.registered_to)
        if self.q is not None:
            conditions.append(matching(dialect, self.q))
        return and_(true(), *conditions)

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v is not None}


def is_overdue(row: dict[str, Any], now: datetime) -> bool:
    """Whether a listed lead is past its deadline without a result: what the ``overdue``
    filter selects, said of one row."""
    deadline = row["deadline"]
    return (
        deadline is not None
        and as_utc(deadline) < now
        and row["conclusion"] is None
        and row["archived_at"] is None
    )


def is_unanswered(row: dict[str, Any], now: datetime, older_than: timedelta) -> bool:
    """Whether a listed lead is one :func:`unanswered` lists, said of one row."""
    return (
        as_utc(row["registered_at"]) < now - older_than
        and row["archived_at"] is None
        and (row["feedback_at"] is None or row["conclusion"] is None)
    )


def _listing(
    conn: Connection, principal: Principal, filters: Filters, now: datetime
) -> Select[Any]:
    # Who may see a lead first: a search never looks into a lead the reader may not see.
    return select(leads).where(visible_to(principal) & filters.where(now, conn.dialect.name))


def page(
    conn: Connection,
    principal: Principal,
    filters: Filters,
    now: datetime,
    number: int,
    size: int,
) -> tuple[int, list[dict[str, Any]]]:
    query = _listing(conn, principal, filters, now)
    total = (conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = conn.execute(
        query.order_by(leads.c.registered_at.desc(), leads.c.ledger_number.desc())
        .limit(size)
        .offset((number - 1) * size)
    )
    return int(total), [dict(r._mapping) for r in rows]


async def all_rows(
    conn: AsyncConnection, principal: Principal, filters: Filters, now: datetime
) -> list[dict[str, Any]]:
    return await conn.run_sync(rows_of, principal, filters, now)


def rows_of(
    conn: Connection, principal: Principal, filters: Filters, now: datetime
) -> list[dict[str, Any]]:
    rows = conn.execute(_listing(conn, principal, filters, now).order_by(leads.c.ledger_number))
    return [dict(r._mapping) for r in rows]


def one(conn: Connection, principal: Principal, lead_id: str) -> dict[str, Any] | None:
    """The lead's row, or None when there is no such lead or the principal may not see it
    (the two are never told apart)."""
    row = (
        conn.execute(select(leads).where(visible_to(principal) & (leads.c.lead_id == lead_id)))
    ).first()
    return dict(row._mapping) if row is not None else None


def one_by_number(
    conn: Connection, principal: Principal, ledger_number: str
) -> dict[str, Any] | None:
    """The lead filed under ``ledger_number``, under the same rule as :func:`one`."""
    row = (
        conn.execute(
            select(leads).where(visible_to(principal) & (leads.c.ledger_number == ledger_number))
        )
    ).first()
    return dict(row._mapping) if row is not None else None


# The reads below take a lead the reader was found to see (by one or one_by_number).


def report_of(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    """What was reported, or None while intake's report is not read yet."""
    row = (conn.execute(select(reports).where(reports.c.lead_id == lead_id))).first()
    if row is None:
        return None
    found = dict(row._mapping)
    found["attachments"] = json.loads(found["attachments"])
    return found


def thread_of(conn: Connection, lead_id: str) -> list[dict[str, Any]]:
    """The exchange with the reporter, oldest first."""
    rows = conn.execute(
        select(thread)
        .where(thread.c.lead_id == lead_id)
        .order_by(thread.c.occurred_at, thread.c.event_id)
    )
    entries = [dict(r._mapping) for r in rows]
    for entry in entries:
        entry["attachments"] = json.loads(entry["attachments"])
    return entries


def duplicates_of(conn: Connection, principal: Principal, lead_id: str) -> list[dict[str, Any]]:
    """The other reports of the same matter the reader may see, with their ledger numbers;
    one the reader may not see (or not filed yet) is not named."""
    rows = conn.execute(
        select(
            duplicates.c.other_lead_id.label("lead_id"),
            leads.c.ledger_number,
            duplicates.c.alike_because.label("basis"),
            duplicates.c.suspected_at,
        )
        .select_from(duplicates.join(leads, leads.c.lead_id == duplicates.c.other_lead_id))
        .where((duplicates.c.lead_id == lead_id) & visible_to(principal))
        .order_by(leads.c.ledger_number)
    )
    return [dict(r._mapping) for r in rows]


def applied_position(conn: Connection, projection: str, stream: str) -> int:
    """The last sequence of ``stream`` the read model has applied."""
    value = (
        conn.execute(
            select(projection_positions.c.sequence).where(
                (projection_positions.c.projection == projection)
                & (projection_positions.c.stream == stream)
            )
        )
    ).scalar()
    return int(value or 0)


def unanswered(
    conn: Connection, principal: Principal, older_than: timedelta, now: datetime
) -> list[dict[str, Any]]:
    """Leads filed before the cut-off with neither an answer to the reporter nor a result
    (条条有回音，件件有结果); :func:`is_unanswered` says it of one row."""
    rows = conn.execute(
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


def statistics(conn: Connection, principal: Principal) -> dict[str, dict[str, int]]:
    """Counts by village, unit, category and month of filing (China time), counted by the
    database: one grouped query each, instead of every visible lead sent here."""
    seen = visible_to(principal)
    by: dict[str, dict[str, int]] = {}
    for name, key in (
        ("village", leads.c.village),
        ("unit", leads.c.unit),
        ("category", leads.c.category),
        ("month", _china_month(conn.dialect.name)),
    ):
        rows = conn.execute(select(key.label("key"), func.count()).where(seen).group_by(key))
        counts: Counter[str] = Counter()
        for value, count in rows:
            counts[value or "-"] += count
        by[name] = dict(sorted(counts.items()))
    return by


def _china_month(dialect: str) -> ColumnElement[str]:
    """The month a lead was filed in, on the township's clock (UTC+8, no summer time)."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m", leads.c.registered_at, "+8 hours")
    return func.to_char(func.timezone(CHINA_ZONE, leads.c.registered_at), "YYYY-MM")


@dataclass(frozen=True)
class Timeliness:
    """Of the leads given a deadline: how many had their result by it, how many after it,
    and how many are past it with no result yet (按期办结率)."""

    on_time: int
    late: int
    overdue: int

    @property
    def due(self) -> int:
        return self.on_time + self.late + self.overdue

    @property
    def rate(self) -> float | None:
        """The share of the leads due that had their result in time; None when none is due."""
        return self.on_time / self.due if self.due else None


def timeliness(conn: Connection, principal: Principal, now: datetime) -> Timeliness:
    rows = conn.execute(
        select(
            leads.c.deadline, leads.c.conclusion, leads.c.concluded_at, leads.c.archived_at
        ).where(visible_to(principal) & leads.c.deadline.is_not(None))
    )
    on_time = late = overdue = 0
    for row in rows:
        deadline = as_utc(row.deadline)
        if row.conclusion is not None and row.concluded_at is not None:
            if as_utc(row.concluded_at) <= deadline:
                on_time += 1
            else:
                late += 1
        elif row.archived_at is None and deadline < now:
            overdue += 1
    return Timeliness(on_time=on_time, late=late, overdue=overdue)
