"""What the committee reads: its cases, every supervision, the responsibility trace, the
access log and the leak-risk report (a person's repeated reads of a lead counted as one
view, oversight.domain.views), and the assessment. A read of one lead is recorded like
anyone else's."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from common.auth import Principal
from common.errors import NotFound, RuleViolation
from common.events import utc_now
from oversight import reports
from oversight.domain.assessment import Assessment
from oversight.projection import queries

# Where the facts of units that are no town's (the county's own) are counted.
COUNTY_GROUP = "county"

if TYPE_CHECKING:
    from oversight.application.context import Oversight


async def cases(ox: Oversight, status: str | None) -> list[dict[str, Any]]:
    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.case_list(conn, status)


async def case(ox: Oversight, case_id: str, principal: Principal, purpose: str) -> dict[str, Any]:
    async with ox.runtime.database.async_engine.connect() as conn:
        found = await queries.case(conn, case_id)
    if found is None:
        raise NotFound("no such case")
    await ox.viewed(found["lead_id"], principal, purpose)
    return found


async def supervisions(
    ox: Oversight,
    *,
    rule: str | None,
    unit: str | None,
    since: datetime | None,
    page: int,
    page_size: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Every supervision, the newest first: how many match, and the page asked for."""
    if unit is not None and ox.runtime.org.unit(unit) is None:
        raise RuleViolation(
            f"{unit!r} is not a unit of the township", f"{unit} 不是本镇的单位", field="unit"
        )
    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.supervision_page(
            conn, rule=rule, unit=unit, since=since, page=page, page_size=page_size
        )


async def responsibility_trace(
    ox: Oversight, lead_id: str, principal: Principal
) -> list[queries.Period]:
    async with ox.runtime.database.async_engine.connect() as conn:
        periods = await queries.responsibility_trace(conn, lead_id)
    if not periods:
        raise NotFound("no custody is known for this lead")
    await ox.viewed(lead_id, principal, "responsibility trace")
    return periods


def _one_view(ox: Oversight) -> timedelta:
    return timedelta(minutes=ox.settings.view_minutes)


async def access_log(
    ox: Oversight, lead_id: str | None, outsiders_only: bool
) -> list[dict[str, Any]]:
    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.access_log(conn, lead_id, outsiders_only, _one_view(ox))


async def leak_risk(ox: Oversight, hours: float | None) -> list[dict[str, Any]]:
    """Outsiders' views within ``hours`` (the configured window if not given) before a key
    moment."""
    window = timedelta(hours=hours or ox.settings.leak_window_hours)
    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.leak_risk(conn, window, _one_view(ox))


async def assessments(ox: Oversight) -> list[Assessment]:
    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.assessments(conn)


async def assessments_by_town(ox: Oversight) -> list[Assessment]:
    """Each town's months, its units' facts taken together (``unit`` is the town's code;
    the county's own units count as ``county``), as each unit's are assessed."""
    org = ox.runtime.org

    def town_of(unit: str) -> str:
        town = org.town_of(unit)
        return town.code if town is not None else COUNTY_GROUP

    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.assessments(conn, group=town_of)


async def assessment_spreadsheet(ox: Oversight, lang: str) -> reports.Spreadsheet:
    return reports.assessment_spreadsheet(await assessments(ox), ox.runtime.org, lang, utc_now())
