"""The rectification items (整改台账) the committee watches: those past their deadline and
not closed (销号), of the reader's towns alone. One read for the API and the desk."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from common.auth import Principal
from common.events import utc_now
from oversight.application.towns import towns_seen
from oversight.projection.tasks import overdue

if TYPE_CHECKING:
    from oversight.application.context import Oversight

#: Far over the overdue items of a county.
MOST_LISTED: Final = 1000


async def overdue_items(
    ox: Oversight, principal: Principal, unit: str | None = None
) -> list[dict[str, Any]]:
    """The overdue items of the principal's towns (of ``unit`` when given), the longest
    overdue first, each with its unit's name and whole days past its deadline."""
    org = ox.runtime.org
    towns = towns_seen(org, principal)
    now = utc_now()
    async with ox.runtime.database.async_engine.connect() as conn:
        rows = await overdue(conn, towns, now, unit, MOST_LISTED)
    return [
        {
            **row,
            "unit_name": found.name if (found := org.unit(row["unit"])) else row["unit"],
            "days_overdue": (now - row["deadline"]).days,
        }
        for row in rows
    ]
