"""The counts statistics show (``ledger_counts``), kept by the projection as leads are
filed and handed on, instead of counted over every lead at each read.

A lead counts in each scope a reader sees the ledger through: ``all`` (the office, clerks,
auditors), its village's (a screener's: not a lead routed to the committee), and each
unit's it was ever handed to (police, judicial, discipline: ``lead_units``). In each, once
under its village, its current unit, its category and the month it was filed in (China
time). What it counts under changes only when it is filed, handed to a unit, or sent back:
the projector takes its old places away and adds its new ones in the same batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from common.batchwriter import BatchWriter, Row
from ledger.projection.tables import counts

ALL: Final = "all"
DIMENSIONS: Final = ("village", "unit", "category", "month")
# The township's clock: UTC+8 all year (as queries.CHINA_ZONE).
_CHINA: Final = timedelta(hours=8)

Place = tuple[str, str, str]


def village_scope(village: str) -> str:
    return f"village:{village}"


def unit_scope(unit: str) -> str:
    return f"unit:{unit}"


def units_of(row: Row) -> list[str]:
    return [u for u in (row.get("units") or "").split(",") if u]


def month_of(registered_at: datetime) -> str:
    moment = registered_at if registered_at.tzinfo else registered_at.replace(tzinfo=UTC)
    return (moment.astimezone(UTC) + _CHINA).strftime("%Y-%m")


def places(row: Row) -> list[Place]:
    """Where the lead of ``row`` counts: (scope, dimension, value) each."""
    scopes = [ALL]
    village = row["village"]
    if village and not row["for_committee"]:
        scopes.append(village_scope(village))
    scopes.extend(unit_scope(u) for u in units_of(row))
    values = (village or "-", row["unit"], row["category"], month_of(row["registered_at"]))
    return [
        (scope, dimension, value)
        for scope in scopes
        for dimension, value in zip(DIMENSIONS, values, strict=True)
    ]


def move(db: BatchWriter, before: Iterable[Place], after: Iterable[Place]) -> None:
    """Take the lead out of the places it counted in ``before`` and into ``after``."""
    change: Counter[Place] = Counter(after)
    change.subtract(before)
    for place, step in change.items():
        if step:
            add(db, place, step)


def add(db: BatchWriter, place: Place, step: int) -> None:
    row: dict[str, Any] | None = db.get(counts, *place)
    if row is None:
        scope, dimension, value = place
        row = {"scope": scope, "dimension": dimension, "value": value, "leads": 0}
    row["leads"] += step
    db.put(counts, row)
