"""Reads of oversight's read model: cases (with what was reported and the exchange with the
reporter), supervisions and the notices still owed, the responsibility trace, the access
log, the leak-risk report, automatic-rule candidates and the per-unit assessment."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from common.database import as_utc
from oversight.domain.assessment import Assessment, Assignment, Turn, assess
from oversight.domain.cases import BY_HAND
from oversight.domain.views import Read, View, views
from oversight.projection.scope import EVERY_TOWN, Towns, leads_in, units_in
from oversight.projection.tables import (
    access,
    accountability,
    assignments,
    cases,
    custody,
    leads,
    moments,
    notices,
    reports,
    supervisions,
    thread,
    turns,
)

_COMMITTEE: Final = "\x00discipline-committee"  # a marker no user name can equal
RETURNED: Final = "returned"  # a turn the unit ended by sending the lead back


async def case_list(
    conn: AsyncConnection, towns: Towns, status: str | None = None
) -> list[dict[str, Any]]:
    """The cases on leads of ``towns``: umbrella cases first (保护伞 are handled first), then
    the oldest open case."""
    query = (
        select(cases, leads.c.ledger_number, leads.c.category, leads.c.village, leads.c.summary)
        .join(leads, leads.c.lead_id == cases.c.lead_id, isouter=True)
        .where(leads_in(towns))
    )
    if status is not None:
        query = query.where(cases.c.status == status)
    rows = await conn.execute(query.order_by(cases.c.umbrella.desc(), cases.c.opened_at))
    return [dict(r._mapping) for r in rows]


async def case_row(conn: AsyncConnection, case_id: str, towns: Towns) -> dict[str, Any] | None:
    """The case, if it is on a lead of ``towns`` (None as for no such case)."""
    row = (
        await conn.execute(
            select(cases, leads.c.ledger_number, leads.c.category, leads.c.village, leads.c.summary)
            .join(leads, leads.c.lead_id == cases.c.lead_id, isouter=True)
            .where(cases.c.case_id == case_id, leads_in(towns))
        )
    ).first()
    return dict(row._mapping) if row is not None else None


async def lead_seen(conn: AsyncConnection, lead_id: str, towns: Towns) -> bool:
    """Whether oversight knows the lead as one of ``towns``'s."""
    found = await conn.scalar(
        select(leads.c.lead_id).where(leads.c.lead_id == lead_id, leads_in(towns))
    )
    return found is not None


async def leads_seen(conn: AsyncConnection, lead_ids: Collection[str], towns: Towns) -> set[str]:
    """Those of ``lead_ids`` oversight knows as ``towns``'s."""
    wanted = sorted(lead_ids)
    seen: set[str] = set()
    # In slices: one bound parameter per id, and SQLite caps how many a statement takes.
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = await conn.scalars(
            select(leads.c.lead_id).where(leads.c.lead_id.in_(chunk), leads_in(towns))
        )
        seen.update(rows)
    return seen


async def case(conn: AsyncConnection, case_id: str, towns: Towns) -> dict[str, Any] | None:
    """The case in full, if it is on a lead of ``towns``."""
    found = await case_row(conn, case_id, towns)
    if found is None:
        return None
    found["supervision"] = [
        dict(r._mapping)
        for r in await conn.execute(
            select(supervisions)
            .where(supervisions.c.lead_id == found["lead_id"])
            .order_by(supervisions.c.at)
        )
    ]
    found["accountability"] = [
        dict(r._mapping)
        for r in await conn.execute(
            select(accountability)
            .where(accountability.c.case_id == case_id)
            .order_by(accountability.c.at)
        )
    ]
    found["report"] = await report_of(conn, found["lead_id"])
    found["thread"] = await thread_of(conn, found["lead_id"])
    return found


async def report_of(conn: AsyncConnection, lead_id: str) -> dict[str, Any] | None:
    """What was reported, or None while intake's report is not read yet."""
    row = (await conn.execute(select(reports).where(reports.c.lead_id == lead_id))).first()
    if row is None:
        return None
    found = dict(row._mapping)
    found["attachments"] = json.loads(found["attachments"])
    return found


async def thread_of(conn: AsyncConnection, lead_id: str) -> list[dict[str, Any]]:
    """The exchange with the reporter, oldest first (INTAKE and LEDGER are read side by
    side, so the order is the entries' own times, not the order they were applied in)."""
    rows = await conn.execute(
        select(thread)
        .where(thread.c.lead_id == lead_id)
        .order_by(thread.c.occurred_at, thread.c.event_id)
    )
    entries = [dict(r._mapping) for r in rows]
    for entry in entries:
        entry["attachments"] = json.loads(entry["attachments"])
    return entries


# --- supervision (督办) --------------------------------------------------------------------


async def holder(conn: AsyncConnection, lead_id: str) -> str | None:
    """The unit holding the lead as the ledger last said (None while it is not filed)."""
    found: str | None = await conn.scalar(select(leads.c.holder).where(leads.c.lead_id == lead_id))
    return found


async def supervision_page(
    conn: AsyncConnection,
    *,
    towns: Towns,
    rule: str | None,
    unit: str | None,
    since: datetime | None,
    page: int,
    page_size: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Every supervision of a lead of ``towns`` (by hand or by a rule, with or without a
    case), the newest first: how many match, and the page asked for. ``rule`` BY_HAND is
    those opened by hand; ``unit`` is the unit holding the lead now."""
    chosen: list[ColumnElement[bool]] = [supervisions.c.kind == "supervision", leads_in(towns)]
    if rule == BY_HAND:
        chosen.append(supervisions.c.rule.is_(None))
    elif rule is not None:
        chosen.append(supervisions.c.rule == rule)
    if unit is not None:
        chosen.append(leads.c.holder == unit)
    if since is not None:
        chosen.append(supervisions.c.at >= since)
    joined = supervisions.outerjoin(leads, leads.c.lead_id == supervisions.c.lead_id).outerjoin(
        notices, notices.c.supervision_id == supervisions.c.event_id
    )
    total = await conn.scalar(select(func.count()).select_from(joined).where(*chosen))
    rows = await conn.execute(
        select(
            supervisions.c.event_id.label("supervision_id"),
            supervisions.c.lead_id,
            leads.c.ledger_number,
            supervisions.c.case_id,
            supervisions.c.rule,
            supervisions.c.reason,
            supervisions.c.at,
            leads.c.holder.label("unit"),
            notices.c.unit.label("noticed_unit"),
            notices.c.at.label("noticed_at"),
        )
        .select_from(joined)
        .where(*chosen)
        .order_by(supervisions.c.at.desc(), supervisions.c.event_id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return int(total or 0), [dict(r._mapping) for r in rows]


async def notices_owed(conn: AsyncConnection, committees: Collection[str]) -> list[tuple[str, str]]:
    """(lead, supervision) for every supervision of an open lead that a unit other than
    a committee holds and was not told of yet, the oldest first."""
    rows = await conn.execute(
        select(supervisions.c.lead_id, supervisions.c.event_id)
        .select_from(
            supervisions.join(leads, leads.c.lead_id == supervisions.c.lead_id).outerjoin(
                notices, notices.c.supervision_id == supervisions.c.event_id
            )
        )
        .where(
            supervisions.c.kind == "supervision",
            notices.c.event_id.is_(None),
            leads.c.holder.is_not(None),
            leads.c.holder.not_in(committees),
            leads.c.concluded_at.is_(None),
            leads.c.archived_at.is_(None),
        )
        .order_by(supervisions.c.at)
    )
    return [(r.lead_id, r.event_id) for r in rows]


# --- the responsibility trace (责任倒查) -------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Who held a lead, or was responsible for it, from when until when."""

    kind: str  # "unit" or "person"
    unit: str | None
    person: str | None
    person_name: str | None
    start: datetime
    end: datetime | None
    deadline: datetime | None
    assigned_by: str | None


async def responsibility_trace(conn: AsyncConnection, lead_id: str) -> list[Period]:
    """责任倒查: the units that held the lead and the people responsible, with the time each
    held it (a transfer ends the unit's and the person's period; a new assignment ends the
    previous person's; an extension changes the deadline of the current one)."""
    rows = await conn.execute(
        select(custody).where(custody.c.lead_id == lead_id).order_by(custody.c.at)
    )
    periods: list[Period] = []
    unit: Period | None = None
    person: Period | None = None
    for row in rows:
        at = as_utc(row.at)
        assert at is not None  # noqa: S101 - a custody row always has its time
        if row.kind in ("registered", "transferred", "returned"):
            if person is not None:
                periods.append(_ended(person, at))
                person = None
            if unit is not None:
                periods.append(_ended(unit, at))
            unit = Period("unit", row.unit, None, None, at, None, None, row.by_user)
        elif row.kind == "assigned":
            if person is not None:
                periods.append(_ended(person, at))
            person = Period(
                "person",
                row.unit,
                row.person,
                row.person_name,
                at,
                None,
                as_utc(row.deadline),
                row.by_user,
            )
        elif row.kind == "deadline_extended" and person is not None:
            person = Period(
                person.kind,
                person.unit,
                person.person,
                person.person_name,
                person.start,
                None,
                as_utc(row.deadline),
                person.assigned_by,
            )
    periods.extend(p for p in (unit, person) if p is not None)
    return sorted(periods, key=lambda p: (p.start, p.kind != "unit"))


def _ended(period: Period, at: datetime) -> Period:
    return Period(
        period.kind,
        period.unit,
        period.person,
        period.person_name,
        period.start,
        at,
        period.deadline,
        period.assigned_by,
    )


async def access_log(
    conn: AsyncConnection,
    towns: Towns,
    lead_id: str | None = None,
    outsiders_only: bool = False,
    within: timedelta = timedelta(0),
) -> list[dict[str, Any]]:
    """Every recorded read of a lead of ``towns`` (and, of no lead, by one of their units)
    as views (a person's reads of a lead ``within`` the first of them are one,
    oversight.domain.views), the latest first, each marked whether the reader was neither
    responsible for the lead nor in a unit that held it."""
    return [
        _entry(view, outsider)
        for view, outsider in await _views(conn, towns, lead_id, within)
        if outsider or not outsiders_only
    ]


async def _views(
    conn: AsyncConnection, towns: Towns, lead_id: str | None, within: timedelta
) -> list[tuple[View, bool]]:
    query = select(access)
    if not towns.every:
        query = query.outerjoin(leads, leads.c.lead_id == access.c.lead_id).where(
            leads_in(towns) | (access.c.lead_id.is_(None) & units_in(towns, access.c.unit))
        )
    if lead_id is not None:
        query = query.where(access.c.lead_id == lead_id)
    reads = [
        Read(
            event_id=r.event_id,
            lead_id=r.lead_id,
            at=as_utc(r.at),
            kind=r.kind,
            service=r.service,
            user=r.user,
            role=r.role,
            unit=r.unit,
            purpose=r.purpose,
        )
        for r in await conn.execute(query)
    ]
    grouped = sorted(
        views(reads, within), key=lambda v: (v.last_at, v.first.event_id), reverse=True
    )
    insiders = await _insiders(conn, {r.lead_id for r in reads if r.lead_id})
    return [(view, _outsider(view.first, insiders)) for view in grouped]


def _outsider(read: Read, insiders: dict[str, tuple[set[str], set[str]]]) -> bool:
    if read.lead_id is None:
        return False
    units, people = insiders.get(read.lead_id, (set(), set()))
    committee = read.role == "discipline" and _COMMITTEE in people
    return not (read.unit in units or read.user in people or committee)


def _entry(view: View, outsider: bool) -> dict[str, Any]:
    first = view.first
    return {
        "event_id": first.event_id,
        "lead_id": first.lead_id,
        "at": view.first_at,
        "first_at": view.first_at,
        "last_at": view.last_at,
        "count": view.count,
        "kind": first.kind,
        "service": first.service,
        "user": first.user,
        "role": first.role,
        "unit": first.unit,
        "purpose": first.purpose,
        "purposes": view.purposes,
        "outsider": outsider,
    }


async def _insiders(
    conn: AsyncConnection, lead_ids: set[str]
) -> dict[str, tuple[set[str], set[str]]]:
    found: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    if not lead_ids:
        return found
    rows = await conn.execute(
        select(custody.c.lead_id, custody.c.unit, custody.c.person).where(
            custody.c.lead_id.in_(lead_ids)
        )
    )
    for row in rows:
        units, people = found[row.lead_id]
        if row.unit:
            units.add(row.unit)
        if row.person:
            people.add(row.person)
    # The committee is an insider on the leads it has a case on, transferred to it or not.
    with_case = await conn.execute(select(cases.c.lead_id).where(cases.c.lead_id.in_(lead_ids)))
    for row in with_case:
        found[row.lead_id][1].add(_COMMITTEE)
    return found


async def leak_risk(
    conn: AsyncConnection, towns: Towns, window: timedelta, within: timedelta = timedelta(0)
) -> list[dict[str, Any]]:
    """Outsiders' views with a read within ``window`` before one of the lead's key moments
    (a transfer, an assignment, a case, supervision, a result): who could have tipped off.
    One entry per view and moment, however many times the view was refreshed: ``viewed_at``
    is its last read before the moment, ``count`` how many reads the whole view took."""
    by_lead: dict[str, list[View]] = defaultdict(list)
    for view, outsider in await _views(conn, towns, None, within):
        if outsider and view.first.lead_id is not None:
            by_lead[view.first.lead_id].append(view)
    if not by_lead:
        return []
    rows = await conn.execute(select(moments).where(moments.c.lead_id.in_(set(by_lead))))
    report = []
    for moment in rows:
        at = as_utc(moment.at)
        for view in by_lead[moment.lead_id]:
            seen = view.last_read_before(at, window)
            if seen is None:
                continue
            first = view.first
            report.append(
                {
                    "lead_id": moment.lead_id,
                    "viewer": first.user,
                    "viewer_role": first.role,
                    "viewer_unit": first.unit,
                    "viewed_at": seen,
                    "first_at": view.first_at,
                    "last_at": view.last_at,
                    "count": view.count,
                    "moment": moment.event_type,
                    "moment_at": at,
                    "hours_before": round((at - seen).total_seconds() / 3600, 2),
                }
            )
    return sorted(report, key=lambda r: (r["hours_before"], r["lead_id"]))


async def rule_candidates(
    conn: AsyncConnection, now: datetime, overdue: timedelta, same_matter: int, open_for: timedelta
) -> list[tuple[str, str, str]]:
    """(lead, rule, reason) for every lead an automatic rule applies to now."""
    rows = await conn.execute(
        select(leads).where(leads.c.concluded_at.is_(None) & leads.c.archived_at.is_(None))
    )
    found = []
    for row in rows:
        deadline, registered = as_utc(row.deadline), as_utc(row.registered_at)
        if deadline is not None and now - deadline > overdue:
            found.append(
                (row.lead_id, "overdue", f"deadline passed more than {overdue.days} days ago")
            )
        if (row.same_matter_reports or 1) >= same_matter:
            found.append(
                (
                    row.lead_id,
                    "same_matter",
                    f"{row.same_matter_reports} reports on the same matter",
                )
            )
        if registered is not None and now - registered > open_for:
            found.append((row.lead_id, "open_too_long", f"open more than {open_for.days} days"))
    return found


async def assessments(
    conn: AsyncConnection,
    now: datetime | None = None,
    group: Callable[[str], str] | None = None,
    towns: Towns = EVERY_TOWN,
) -> list[Assessment]:
    """Each unit's months (考核) of the units of ``towns``, every fact counted for the unit
    and person responsible when it happened (oversight.domain.assessment); deadlines still
    open are judged at ``now``. ``group`` assesses groups of units instead (a county's
    towns: each unit's facts counted for the group it names)."""
    now = now or datetime.now(UTC)
    grouped = group or _as_is
    # Only what the rules read: a moment that only has to have happened is read as such,
    # not turned into a datetime for every turn of every month. The grouping by unit and
    # month and every rule stay in oversight.domain.assessment, their one definition (an
    # open deadline is judged at ``now`` there).
    found_turns = [
        Turn(
            unit=grouped(r.unit),
            month=r.month,
            handled=r.ended is None,
            returned=r.ended == RETURNED,
            concluded=bool(r.concluded),
            answered=bool(r.answered),
            hours_to_register=r.hours_to_register,
        )
        for r in await conn.execute(
            select(
                turns.c.unit,
                turns.c.month,
                turns.c.ended,
                turns.c.concluded_at.is_not(None).label("concluded"),
                turns.c.answered_at.is_not(None).label("answered"),
                turns.c.hours_to_register,
            ).where(units_in(towns, turns.c.unit))
        )
    ]
    found_assignments = []
    for r in await conn.execute(
        select(
            assignments.c.unit,
            assignments.c.month,
            assignments.c.person,
            assignments.c.deadline,
            assignments.c.ended_at.is_not(None).label("ended"),
            assignments.c.on_time,
            assignments.c.missed,
            assignments.c.missed_through,
        ).where(units_in(towns, assignments.c.unit))
    ):
        deadline = as_utc(r.deadline)
        assert deadline is not None  # noqa: S101 - an assignment always has its deadline
        found_assignments.append(
            Assignment(
                unit=grouped(r.unit),
                month=r.month,
                person=r.person,
                deadline=deadline,
                ended=bool(r.ended),
                on_time=r.on_time,
                missed=r.missed,
                missed_through=as_utc(r.missed_through),
            )
        )
    return assess(found_turns, found_assignments, now)


def _as_is(unit: str) -> str:
    return unit
