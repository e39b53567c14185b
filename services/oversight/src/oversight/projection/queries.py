"""Reads of oversight's read model: cases, the responsibility trace, the access log, the
leak-risk report, automatic-rule candidates and the per-unit assessment."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from common.database import as_utc
from common.times import CHINA
from oversight.projection.tables import (
    access,
    accountability,
    cases,
    custody,
    leads,
    moments,
    supervisions,
)

_COMMITTEE: Final = "\x00discipline-committee"  # a marker no user name can equal


async def case_list(conn: AsyncConnection, status: str | None = None) -> list[dict[str, Any]]:
    """Umbrella cases first (保护伞 are handled first), then the oldest open case."""
    query = select(
        cases, leads.c.ledger_number, leads.c.category, leads.c.village, leads.c.summary
    ).join(leads, leads.c.lead_id == cases.c.lead_id, isouter=True)
    if status is not None:
        query = query.where(cases.c.status == status)
    rows = await conn.execute(query.order_by(cases.c.umbrella.desc(), cases.c.opened_at))
    return [dict(r._mapping) for r in rows]


async def case(conn: AsyncConnection, case_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(cases, leads.c.ledger_number, leads.c.category, leads.c.village, leads.c.summary)
            .join(leads, leads.c.lead_id == cases.c.lead_id, isouter=True)
            .where(cases.c.case_id == case_id)
        )
    ).first()
    if row is None:
        return None
    found = dict(row._mapping)
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
    return found


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
    conn: AsyncConnection, lead_id: str | None = None, outsiders_only: bool = False
) -> list[dict[str, Any]]:
    """Every recorded read, newest first, each marked whether the reader was neither
    responsible for the lead nor in a unit that held it."""
    query = select(access).order_by(access.c.at.desc())
    if lead_id is not None:
        query = query.where(access.c.lead_id == lead_id)
    entries = [dict(r._mapping) for r in await conn.execute(query)]
    insiders = await _insiders(conn, {e["lead_id"] for e in entries if e["lead_id"]})
    for entry in entries:
        units, people = insiders.get(entry["lead_id"], (set(), set()))
        committee = entry["role"] == "discipline" and _COMMITTEE in people
        entry["outsider"] = entry["lead_id"] is not None and not (
            entry["unit"] in units or entry["user"] in people or committee
        )
    return [e for e in entries if e["outsider"]] if outsiders_only else entries


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


async def leak_risk(conn: AsyncConnection, window: timedelta) -> list[dict[str, Any]]:
    """Reads by outsiders within ``window`` before one of the lead's key moments (a
    transfer, an assignment, a case, supervision, a result): who could have tipped off."""
    outsiders = await access_log(conn, outsiders_only=True)
    by_lead: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in outsiders:
        by_lead[entry["lead_id"]].append(entry)
    if not by_lead:
        return []
    rows = await conn.execute(select(moments).where(moments.c.lead_id.in_(set(by_lead))))
    report = []
    for moment in rows:
        at = as_utc(moment.at)
        assert at is not None  # noqa: S101
        for view in by_lead[moment.lead_id]:
            seen = as_utc(view["at"])
            assert seen is not None  # noqa: S101
            if timedelta(0) <= at - seen <= window:
                report.append(
                    {
                        "lead_id": moment.lead_id,
                        "viewer": view["user"],
                        "viewer_role": view["role"],
                        "viewer_unit": view["unit"],
                        "viewed_at": seen,
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


@dataclass(frozen=True)
class Assessment:
    """One unit's month (考核). Leads are counted for the unit holding them now and the
    month they were filed in (China time)."""

    unit: str
    month: str
    leads: int
    avg_hours_to_register: float | None
    on_time_rate: float | None
    feedback_rate: float
    conclusion_rate: float
    overdue: int
    score: float


def score(on_time: float | None, conclusion: float, feedback: float, overdue: int) -> float:
    """100 for a unit that concluded and answered everything on time; 5 points off for
    every missed deadline; never below 0. A unit with nothing due yet counts as on time
    (``on_time`` None)."""
    on_time_part = 1.0 if on_time is None else on_time
    raw = 100 * (0.35 * on_time_part + 0.35 * conclusion + 0.30 * feedback) - 5 * overdue
    return round(max(raw, 0.0), 1)


async def assessments(conn: AsyncConnection, now: datetime | None = None) -> list[Assessment]:
    """On time: of the leads whose deadline has passed or that were concluded with one,
    the share concluded by their deadline — a lead left open past its deadline is late,
    so leaving it open never scores better than concluding it late."""
    now = now or datetime.now(UTC)
    rows = await conn.execute(select(leads).where(leads.c.registered_at.is_not(None)))
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in rows:
        registered = as_utc(row.registered_at)
        assert registered is not None  # noqa: S101
        groups[(row.holder or "-", registered.astimezone(CHINA).strftime("%Y-%m"))].append(row)
    result = []
    for (unit, month), members in sorted(groups.items()):
        waits = [
            (as_utc(r.registered_at) - as_utc(r.reported_at)).total_seconds() / 3600
            for r in members
            if r.reported_at is not None
        ]
        concluded = [r for r in members if r.concluded_at is not None]
        timed = [
            r
            for r in members
            if r.deadline is not None and (r.concluded_at is not None or as_utc(r.deadline) < now)
        ]
        on_time = (
            sum(
                r.concluded_at is not None and as_utc(r.concluded_at) <= as_utc(r.deadline)
                for r in timed
            )
            / len(timed)
            if timed
            else None
        )
        conclusion_rate = len(concluded) / len(members)
        feedback_rate = sum(r.feedback_at is not None for r in members) / len(members)
        overdue = sum(r.deadlines_missed or 0 for r in members)
        result.append(
            Assessment(
                unit=unit,
                month=month,
                leads=len(members),
                avg_hours_to_register=round(sum(waits) / len(waits), 2) if waits else None,
                on_time_rate=round(on_time, 4) if on_time is not None else None,
                feedback_rate=round(feedback_rate, 4),
                conclusion_rate=round(conclusion_rate, 4),
                overdue=overdue,
                score=score(on_time, conclusion_rate, feedback_rate, overdue),
            )
        )
    return result
