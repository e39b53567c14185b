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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from common.auth import Principal
from common.database import as_utc
from common.events import Role
from common.projection import projection_positions
from ledger.projection import counting
from ledger.projection.search import matching, search_parameters, searched, searched_by
from ledger.projection.tables import counts, duplicates, lead_units, leads, reports, thread

# The township's clock: China has kept UTC+8 all year since 1991.
CHINA_ZONE = "Asia/Shanghai"

# Roles that see the whole ledger; the others see their own part of it.
WHOLE_LEDGER = frozenset({Role.OFFICE, Role.CLERK, Role.AUDITOR, Role.ADMIN})
READERS = frozenset({*WHOLE_LEDGER, Role.SCREENER, Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE})


@dataclass(frozen=True, slots=True)
class TownReader(Principal):
    """A reader of one town's leads alone, those numbered under its ledger prefix: who is
    one is decided in ledger.application.towns."""

    ledger_prefix: str = ""


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """A screener sees their village's leads; police, judicial and discipline the leads
    handed to their unit; the office, clerks and auditors all of them, or all of their
    town's (a :class:`TownReader`).

    The one rule of who may see a lead: every list, every read and every command on a lead
    goes through it (commands through :func:`one`)."""
    rule = _rule(principal.role, principal.unit)
    if isinstance(principal, TownReader):
        return rule & in_town(principal.ledger_prefix)
    return rule


def in_town(prefix: str) -> ColumnElement[bool]:
    """The leads numbered under a town's ledger prefix."""
    return _in_town(literal(prefix + "-"), literal(prefix + "."))


def _in_town(first: ColumnElement[str], past: ColumnElement[str]) -> ColumnElement[bool]:
    # The town's numbers are a range of the ledger numbers' index: "<PREFIX>-" up to
    # "<PREFIX>." ('.' sorts right after '-').
    return (leads.c.ledger_number > first) & (leads.c.ledger_number < past)


def _past(reader: TownReader) -> str:
    return reader.ledger_prefix + "."


def sees_all(principal: Principal) -> bool:
    """Whether the principal sees every lead of the ledger."""
    return principal.role in WHOLE_LEDGER and not isinstance(principal, TownReader)


def _rule(role: Role, unit: str | BindParameter[str] | None) -> ColumnElement[bool]:
    """:func:`visible_to` for a reader of ``role`` in ``unit``: the unit as a value, or as a
    parameter bound when the statement runs (:func:`_prepared`)."""
    if role in WHOLE_LEDGER:
        return true()
    if unit is None:
        # A reader placed in no unit holds no part of the ledger. Said here, not left to
        # the comparisons below: SQLAlchemy renders "== None" as IS NULL, which would give
        # a screener of no village every lead without one.
        return false()
    if role is Role.SCREENER:
        # Not the leads the ledger routed to the committee (the decision it recorded when
        # it filed them): a village screener may live next door to the official concerned.
        return (leads.c.village == unit) & leads.c.for_committee.is_(False)
    if role in (Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE):
        return exists().where(
            (lead_units.c.lead_id == leads.c.lead_id) & (lead_units.c.unit == unit)
        )
    return false()


# The hot reads' statements are built once per kind of reader, the reader's unit bound when
# they run: building a statement and working out the cache key SQLAlchemy finds its
# compiled form by cost more CPU than SQLite's answer to it (a fifth of a list's).
_UNIT: Final = "reader_unit"
_TOWN_FROM: Final = "reader_town_from"
_TOWN_PAST: Final = "reader_town_past"
_KINDS: Final = {
    **{role: Role.OFFICE for role in WHOLE_LEDGER},
    Role.SCREENER: Role.SCREENER,
    **{role: Role.POLICE for role in (Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE)},
}
_STATEMENTS: dict[tuple[str, Role, bool], Any] = {}


def _prepared(
    name: str, principal: Principal, build: Callable[[ColumnElement[bool]], Any]
) -> tuple[Any, dict[str, Any]]:
    """The statement ``build`` makes of the principal's visibility, and the parameters it
    runs with: made once per kind of reader and kept. A reader with no unit (or a role the
    rule does not know) gets the rule itself, as :func:`visible_to` says it, each time."""
    kind = _KINDS.get(principal.role)
    if kind is None or (kind is not Role.OFFICE and principal.unit is None):
        return build(visible_to(principal)), {}
    town = isinstance(principal, TownReader)
    found = _STATEMENTS.get((name, kind, town))
    if found is None:
        rule = _rule(kind, bindparam(_UNIT, type_=String))
        if town:
            first, past = bindparam(_TOWN_FROM, type_=String), bindparam(_TOWN_PAST, type_=String)
            rule = rule & _in_town(first, past)
        found = _STATEMENTS[(name, kind, town)] = build(rule)
    bound = {} if kind is Role.OFFICE else {_UNIT: principal.unit}
    if isinstance(principal, TownReader):
        bound |= {_TOWN_FROM: principal.ledger_prefix + "-", _TOWN_PAST: _past(principal)}
    return found, bound


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

    def where(
        self, now: datetime, dialect: str, *, with_search: bool = True
    ) -> ColumnElement[bool]:
        """The filters as a condition on the leads; the search among them unless the
        caller joins the matches itself (``with_search=False``, as :func:`page` does)."""
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
        if self.q is not None and with_search:
            conditions.append(matching(dialect, self.q))
        return and_(true(), *conditions)

    @property
    def none(self) -> bool:
        return all(v is None for v in self.__dict__.values())

    @property
    def only_search(self) -> bool:
        return self.q is not None and all(v is None for k, v in self.__dict__.items() if k != "q")

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


# The list's order, which an index of the leads serves (tables.leads).
NEWEST_FIRST = (leads.c.registered_at.desc(), leads.c.ledger_number.desc())
#: A filtered list counts its leads up to this many (or up to the page asked for, if
#: further on), then says "at least": counting every match in a county's ledger over
#: years would cost more than the page itself.
COUNT_LIMIT = 1000
#: A search reads its matches one by one (each joined to its lead and tested): it counts
#: up to this many (five pages of 20), unless the reader sees the whole ledger and
#: searches for words alone on SQLite, whose index counts its matches itself (up to
#: COUNT_LIMIT).
SEARCH_COUNT_LIMIT = 100


@dataclass(frozen=True)
class LeadPage:
    """A page of a list: its rows, and how many leads the list holds: ``total`` exactly,
    or, when ``exact`` is False, at least ``total``."""

    total: int
    exact: bool
    rows: list[dict[str, Any]]


def page_of(
    conn: Connection,
    principal: Principal,
    filters: Filters,
    now: datetime,
    number: int,
    size: int,
    *,
    count_limit: int | None = None,
) -> LeadPage:
    """Page ``number`` of the leads the principal may see that pass ``filters``, newest
    first. Each part is bounded by the page, not by the ledger: the page is read along an
    index in the list's order (a search, along its matches in that order) and stops at it;
    the whole visible ledger is counted from the counts the projection keeps; a filtered
    list is counted up to ``count_limit`` leads (COUNT_LIMIT; a search SEARCH_COUNT_LIMIT),
    or to the page's end if further on."""
    offset = (number - 1) * size
    if filters.none:
        # The desk's first look: the same statement for every reader of a kind.
        unfiltered, bound = _prepared("page", principal, _unfiltered_page)
        found = conn.execute(unfiltered, {**bound, "size": size, "offset": offset})
        rows = [dict(r._mapping) for r in found]
        return LeadPage(_visible_total(conn, principal), True, rows)
    dialect = conn.dialect.name
    if filters.only_search and filters.q is not None:
        return _search_page(conn, principal, filters.q, offset, size, count_limit)
    where = visible_to(principal) & filters.where(now, dialect, with_search=False)
    search = searched(dialect, filters.q) if filters.q is not None else None
    if search is not None:
        query = select(leads).select_from(search.joined).where(search.where & where)
        order: tuple[ColumnElement[Any], ...] = search.newest_first
    else:
        query = select(leads).where(where)
        order = NEWEST_FIRST
    rows = [
        dict(r._mapping) for r in conn.execute(query.order_by(*order).limit(size).offset(offset))
    ]
    if rows and len(rows) < size:
        return LeadPage(offset + len(rows), True, rows)  # the last page: no count needed
    if search is not None and dialect == "sqlite" and sees_all(principal) and filters.only_search:
        # Every numbered text is a filed lead, and the reader sees them all: SQLite's index
        # counts its matches without reading a text (PostgreSQL's tests each text again).
        counting_query = search.matches
        default_limit = COUNT_LIMIT
    else:
        # In the list's order, as the page is read: along the same index (which holds the
        # ledger number: nothing else of the row is read), stopping early.
        counting_query = query.with_only_columns(leads.c.ledger_number).order_by(*order)
        default_limit = COUNT_LIMIT if search is None else SEARCH_COUNT_LIMIT
    limit = max(default_limit if count_limit is None else count_limit, offset + size)
    bounded = counting_query.limit(limit + 1).subquery()
    counted = int(conn.execute(select(func.count()).select_from(bounded)).scalar_one())
    if counted > limit:
        return LeadPage(limit, False, rows)
    return LeadPage(counted, True, rows)


def _search_page(
    conn: Connection,
    principal: Principal,
    words: str,
    offset: int,
    size: int,
    count_limit: int | None,
) -> LeadPage:
    """:func:`page_of` for a search alone (the desk's search box), on statements made once
    per kind of reader, the words bound as they run: the same rows and count as the
    general path would read."""
    dialect = conn.dialect.name
    folds_case, words_bound = search_parameters(dialect, words)
    search = searched_by(dialect, folds_case)
    key = f"search/{dialect}/{folds_case}"

    def found(visible: ColumnElement[bool]) -> Select[Any]:
        return select(leads).select_from(search.joined).where(search.where & visible)

    page, bound = _prepared(
        key, principal, lambda visible: _paged(found(visible), search.newest_first)
    )
    bound = {**bound, **words_bound}
    rows = [dict(r._mapping) for r in conn.execute(page, {**bound, "size": size, "offset": offset})]
    if rows and len(rows) < size:
        return LeadPage(offset + len(rows), True, rows)  # the last page: no count needed
    if dialect == "sqlite" and sees_all(principal):
        # As page_of says: SQLite's index counts the matches of a reader who sees them all.
        counting, _ = _prepared(f"{key}/all", principal, lambda _: _counted(search.matches))
        default_limit = COUNT_LIMIT
    else:
        counting, _ = _prepared(
            f"{key}/counted",
            principal,
            lambda visible: _counted(
                found(visible)
                .with_only_columns(leads.c.ledger_number)
                .order_by(*search.newest_first)
            ),
        )
        default_limit = SEARCH_COUNT_LIMIT
    limit = max(default_limit if count_limit is None else count_limit, offset + size)
    counted = int(conn.execute(counting, {**bound, "counted": limit + 1}).scalar_one())
    if counted > limit:
        return LeadPage(limit, False, rows)
    return LeadPage(counted, True, rows)


def _paged(query: Select[Any], order: tuple[ColumnElement[Any], ...]) -> Select[Any]:
    # Page and size inlined as the statement runs (literal_execute): PostgreSQL plans for
    # the limit it is given, while the statement stays compiled once.
    return (
        query.order_by(*order)
        .limit(bindparam("size", type_=Integer, literal_execute=True))
        .offset(bindparam("offset", type_=Integer, literal_execute=True))
    )


def _counted(query: Select[Any]) -> Select[Any]:
    """How many rows ``query`` has, up to the bound parameter ``counted``."""
    bounded = query.limit(bindparam("counted", type_=Integer, literal_execute=True)).subquery()
    return select(func.count()).select_from(bounded)


def _visible_total(conn: Connection, principal: Principal) -> int:
    """The leads the principal sees: each counts once under its current unit."""
    if isinstance(principal, TownReader):
        # A town's leads counted along the ledger numbers' index.
        in_town = visible_to(principal)
        return int(conn.execute(select(func.count()).where(in_town)).scalar_one())
    scope = _scope(principal)
    if scope is None:
        return 0
    return int(conn.execute(_TOTAL, {"scope": scope}).scalar_one())


def _unfiltered_page(visible: ColumnElement[bool]) -> Select[Any]:
    return _paged(select(leads).where(visible), NEWEST_FIRST)


_TOTAL: Final = select(func.coalesce(func.sum(counts.c.leads), 0)).where(
    (counts.c.scope == bindparam("scope")) & (counts.c.dimension == "unit")
)


def _scope(principal: Principal) -> str | None:
    """The counts a principal's statistics are read from: the same leads as
    :func:`visible_to` lets them see."""
    if isinstance(principal, TownReader):
        return None  # a town's statistics are counted (ledger.application.towns)
    if principal.role in WHOLE_LEDGER:
        return counting.ALL
    if principal.unit is None:
        return None
    if principal.role is Role.SCREENER:
        return counting.village_scope(principal.unit)
    if principal.role in (Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE):
        return counting.unit_scope(principal.unit)
    return None


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
    statement, bound = _prepared("one", principal, _by_id)
    row = conn.execute(statement, {**bound, "lead_id": lead_id}).first()
    return dict(row._mapping) if row is not None else None


def _by_id(visible: ColumnElement[bool]) -> Select[Any]:
    return select(leads).where(visible & (leads.c.lead_id == bindparam("lead_id")))


def _by_number(visible: ColumnElement[bool]) -> Select[Any]:
    return select(leads).where(visible & (leads.c.ledger_number == bindparam("ledger_number")))


def one_by_number(
    conn: Connection, principal: Principal, ledger_number: str
) -> dict[str, Any] | None:
    """The lead filed under ``ledger_number``, under the same rule as :func:`one`."""
    statement, bound = _prepared("one_by_number", principal, _by_number)
    row = conn.execute(statement, {**bound, "ledger_number": ledger_number}).first()
    return dict(row._mapping) if row is not None else None


# The reads below take a lead the reader was found to see (by one or one_by_number).


def report_of(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    """What was reported, or None while intake's report is not read yet."""
    row = conn.execute(_REPORT, {"lead_id": lead_id}).first()
    if row is None:
        return None
    found = dict(row._mapping)
    found["attachments"] = json.loads(found["attachments"])
    return found


def thread_of(conn: Connection, lead_id: str) -> list[dict[str, Any]]:
    """The exchange with the reporter, oldest first."""
    rows = conn.execute(_THREAD, {"lead_id": lead_id})
    entries = [dict(r._mapping) for r in rows]
    for entry in entries:
        entry["attachments"] = json.loads(entry["attachments"])
    return entries


def duplicates_of(conn: Connection, principal: Principal, lead_id: str) -> list[dict[str, Any]]:
    """The other reports of the same matter the reader may see, with their ledger numbers;
    one the reader may not see (or not filed yet) is not named."""
    statement, bound = _prepared("duplicates", principal, _duplicates)
    rows = conn.execute(statement, {**bound, "lead_id": lead_id})
    return [dict(r._mapping) for r in rows]


_REPORT: Final = select(reports).where(reports.c.lead_id == bindparam("lead_id"))
_THREAD: Final = (
    select(thread)
    .where(thread.c.lead_id == bindparam("lead_id"))
    .order_by(thread.c.occurred_at, thread.c.event_id)
)


def _duplicates(visible: ColumnElement[bool]) -> Select[Any]:
    return (
        select(
            duplicates.c.other_lead_id.label("lead_id"),
            leads.c.ledger_number,
            duplicates.c.alike_because.label("basis"),
            duplicates.c.suspected_at,
        )
        .select_from(duplicates.join(leads, leads.c.lead_id == duplicates.c.other_lead_id))
        .where((duplicates.c.lead_id == bindparam("lead_id")) & visible)
        .order_by(leads.c.ledger_number)
    )


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
    """Counts by village, unit, category and month of filing (China time), of the leads
    the principal may see: read from the counts the projection keeps (tables.counts), a
    few rows whatever the size of the ledger."""
    by: dict[str, dict[str, int]] = {name: {} for name in counting.DIMENSIONS}
    scope = _scope(principal)
    if scope is None:
        return by
    rows = conn.execute(_STATISTICS, {"scope": scope})
    for dimension, value, number in rows:
        if dimension in by:
            by[dimension][value] = int(number)
    return {name: dict(sorted(found.items())) for name, found in by.items()}


_STATISTICS: Final = select(counts.c.dimension, counts.c.value, counts.c.leads).where(
    (counts.c.scope == bindparam("scope")) & (counts.c.leads > 0)
)


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
