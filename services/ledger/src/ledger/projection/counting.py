"""The counts statistics show (``ledger_counts``), kept by the projection as leads are
filed and handed on, instead of counted over every lead at each read.

A lead counts in each scope a reader sees the ledger through: ``all`` (the office, clerks,
auditors), its village's (a screener's: not a lead routed to the committee), and each
unit's it was ever handed to (police, judicial, discipline: ``lead_units``). In each, once
under its village, its current unit, its category and the month it was filed in (China
time). What it counts under changes only when it is filed, handed to a unit, or sent back:
the projector takes its old places away and adds its new ones in the same batch."""

from __future__ import annotations

import functools
import operator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from common.batchwriter import BatchWriter, Row
from ledger.projection.tables import counts

ALL: Final = "all"
DIMENSIONS: Final = ("village", "unit", "category", "month")
# The township's clock (as queries.CHINA_ZONE).
_CHINA: Final = ZoneInfo("Asia/Shanghai")
_DAY: Final = timedelta(days=1)

Place = tuple[str, str, str]


def village_scope(village: str) -> str:
    return f"village:{village}"


def unit_scope(unit: str) -> str:
    return f"unit:{unit}"


def units_of(row: Row) -> list[str]:
    return [u for u in (row.get("units") or "").split(",") if u]


def month_of(registered_at: datetime) -> str:
    """The month (China time) a lead filed at ``registered_at`` counts in. A rebuild asks
    this for every lead: the zone's conversion is worked out once per day (UTC) and kept."""
    moment = registered_at if registered_at.tzinfo else registered_at.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    before, turn, after = _months_of_day(moment.date())
    return before if turn is None or moment < turn else after


@functools.lru_cache(maxsize=4096)
def _months_of_day(day: date) -> tuple[str, datetime | None, str]:
    """The month at the start of a UTC day, and when the day crosses into the next month
    in China, the moment it does and that month. Exact whatever the zone's offsets, the
    moment being the zone's own midnight of the 1st."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    before = start.astimezone(_CHINA).strftime("%Y-%m")
    after = (start + _DAY - timedelta(microseconds=1)).astimezone(_CHINA).strftime("%Y-%m")
    if after == before:
        return before, None, before
    first = datetime.strptime(after, "%Y-%m").replace(tzinfo=_CHINA)
    return before, first.astimezone(UTC), after


# What of a lead's row says where it counts: village, routed to the committee, the units it
# was handed to, its unit, category and filing time (the month's).
_WHERE: Final = operator.itemgetter(
    "village", "for_committee", "units", "unit", "category", "registered_at"
)
Where = tuple[Any, ...]


def where(row: Row) -> Where:
    """What of ``row`` its places follow (:func:`places`), as :func:`move` takes it."""
    where_: Where = _WHERE(row)
    return where_


def places(row: Row) -> list[Place]:
    """Where the lead of ``row`` counts: (scope, dimension, value) each."""
    return _places(_WHERE(row))


def _places(where_: Where) -> list[Place]:
    village, for_committee, units, unit, category, registered_at = where_
    scopes = [ALL]
    if village and not for_committee:
        scopes.append(village_scope(village))
    if units:
        scopes.extend(unit_scope(u) for u in units.split(",") if u)
    village = village or "-"
    month = month_of(registered_at)
    found: list[Place] = []
    for scope in scopes:
        found += (
            (scope, "village", village),
            (scope, "unit", unit),
            (scope, "category", category),
            (scope, "month", month),
        )
    return found


def move(db: BatchWriter, before: Where | None, after: Where) -> None:
    """Take the lead out of where it counted (``before``; None for a new lead) and into
    ``after`` (each from :func:`where`). Folded over the batch as it stands, not place by
    place: a lead filed and handed on in one batch is counted once, in its last places,
    when the batch's changes are written (:func:`_apply`)."""
    if before == after:
        return
    change = db.folded(counts.name, _apply)
    get = change.get
    change[after] = get(after, 0) + 1
    if before is not None:
        change[before] = get(before, 0) - 1


def _apply(db: BatchWriter, change: dict[Where, int]) -> None:
    steps: dict[Place, int] = {}
    get = steps.get
    for where_, step in change.items():
        if step:
            for place in _places(where_):
                steps[place] = get(place, 0) + step
    for place, step in steps.items():
        if step:
            add(db, place, step)


def add(db: BatchWriter, place: Place, step: int) -> None:
    row: dict[str, Any] | None = db.get(counts, *place)
    if row is None:
        scope, dimension, value = place
        row = {"scope": scope, "dimension": dimension, "value": value, "leads": 0}
    row["leads"] += step
    db.put(counts, row)
