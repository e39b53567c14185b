"""What the committee reads: its cases, every supervision, the responsibility trace, the
access log and the leak-risk report (a person's repeated reads of a lead counted as one
view, oversight.domain.views), and the assessment. A read of one lead is recorded like
anyone else's. Each read is of the towns its reader sees (oversight.application.towns),
decided before anything is read."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from common.auth import Principal
from common.errors import NotFound, RuleViolation
from common.events import utc_now
from oversight import reports
from oversight.application.towns import may_name, towns_seen
from oversight.domain.assessment import Assessment
from oversight.projection import queries
from oversight.projection.scope import Towns

# Where the facts of units that are no town's (the county's own) are counted.
COUNTY_GROUP = "county"

if TYPE_CHECKING:
    from oversight.application.context import Oversight


async def cases(ox: Oversight, principal: Principal, status: str | None) -> list[dict[str, Any]]:
    towns = towns_seen(ox.runtime.org, principal)
    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.case_list(conn, towns, status)


async def case(ox: Oversight, case_id: str, principal: Principal, purpose: str) -> dict[str, Any]:
    towns = towns_seen(ox.runtime.org, principal)
    async with ox.runtime.database.async_engine.connect() as conn:
        found = await queries.case(conn, case_id, towns)
    if found is None:
        raise NotFound("no such case")
    await ox.viewed(found["lead_id"], principal, purpose)
    return found


async def supervisions(
    ox: Oversight,
    principal: Principal,
    *,
    rule: str | None,
    unit: str | None,
    since: datetime | None,
    page: int,
    page_size: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Every supervision of the reader's towns, the newest first: how many match, and the
    page asked for."""
    org = ox.runtime.org
    towns = towns_seen(org, principal)
    if unit is not None and (org.unit(unit) is None or not may_name(org, towns, unit)):
        raise RuleViolation(
            f"{unit!r} is not a unit of the township", f"{unit} 不是本镇的单位", field="unit"
        )
    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.supervision_page(
            conn, towns=towns, rule=rule, unit=unit, since=since, page=page, page_size=page_size
        )


async def responsibility_trace(
    ox: Oversight, lead_id: str, principal: Principal
) -> list[queries.Period]:
    periods = []
    if await ox.sees_lead(lead_id, principal):
        async with ox.runtime.database.async_engine.connect() as conn:
            periods = await queries.responsibility_trace(conn, lead_id)
    if not periods:
        raise NotFound("no custody is known for this lead")
    await ox.viewed(lead_id, principal, "responsibility trace")
    return periods


def _one_view(ox: Oversight) -> timedelta:
    return timedelta(minutes=ox.settings.view_minutes)


async def access_log(
    ox: Oversight, principal: Principal, lead_id: str | None, outsiders_only: bool
) -> list[dict[str, Any]]:
    towns = towns_seen(ox.runtime.org, principal)
    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.access_log(conn, towns, lead_id, outsiders_only, _one_view(ox))


async def leak_risk(
    ox: Oversight, principal: Principal, hours: float | None
) -> list[dict[str, Any]]:
    """Outsiders' views within ``hours`` (the configured window if not given) before a key
    moment."""
    towns = towns_seen(ox.runtime.org, principal)
    window = timedelta(hours=hours or ox.settings.leak_window_hours)
    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.leak_risk(conn, towns, window, _one_view(ox))


async def assessments(ox: Oversight, principal: Principal) -> list[Assessment]:
    """Each unit's months, of the units of the reader's towns."""
    towns = towns_seen(ox.runtime.org, principal)
    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.assessments(conn, towns=towns)


async def assessments_by_town(ox: Oversight, principal: Principal) -> list[Assessment]:
    """Each town's months, its units' facts taken together (``unit`` is the town's code;
    the county's own units count as ``county``), as each unit's are assessed: a town's
    reader gets their town's alone."""
    org = ox.runtime.org
    towns = towns_seen(org, principal)

    def town_of(unit: str) -> str:
        town = org.town_of(unit)
        return town.code if town is not None else COUNTY_GROUP

    async with ox.runtime.database.async_engine.connect() as conn:
        return await queries.assessments(conn, group=town_of, towns=towns)


async def assessment_spreadsheet(
    ox: Oversight, principal: Principal, lang: str, town: str | None = None
) -> reports.Spreadsheet:
    """The assessment of the reader's towns, or of the one town asked for (one of theirs:
    another town is refused as one the county does not have). A file of one town's units
    (a town's reader, or one town asked for) carries the town's code in its name."""
    org = ox.runtime.org
    towns = towns_seen(org, principal)
    if town is not None:
        if not (towns.every or town in towns.codes):
            raise RuleViolation(f"no town {town!r}", f"没有这个乡镇 {town!r}", field="town")
        try:
            towns = Towns.of((org.town_named(town),))
        except LookupError:
            raise RuleViolation(
                f"no town {town!r}", f"没有这个乡镇 {town!r}", field="town"
            ) from None
    async with ox.runtime.database.async_engine.connect() as conn:
        rows = await queries.assessments(conn, towns=towns)
    one = next(iter(towns.codes)) if not towns.every and len(towns.codes) == 1 else None
    return reports.assessment_spreadsheet(rows, org, lang, utc_now(), town=one)
