"""Counts of one town's leads, and of each town's, in a county of several towns.

The counts the projection keeps (``counting``) are by village, unit and the whole ledger;
a town's are counted here over its leads, read along the ledger numbers' index (a town's
numbers are one range of it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from sqlalchemy import Connection, func, select

from ledger.projection import counting
from ledger.projection.queries import in_town
from ledger.projection.tables import leads


def statistics_of_town(conn: Connection, prefix: str) -> dict[str, dict[str, int]]:
    """The town's leads by village, unit, category and month of filing (China time), as
    :func:`ledger.projection.queries.statistics` gives the whole ledger's."""
    by: dict[str, Counter[str]] = {name: Counter() for name in counting.DIMENSIONS}
    rows = conn.execute(
        select(leads.c.village, leads.c.unit, leads.c.category, leads.c.registered_at).where(
            in_town(prefix)
        )
    )
    for village, unit, category, registered_at in rows:
        by["village"][village or "-"] += 1
        by["unit"][unit] += 1
        by["category"][category] += 1
        by["month"][counting.month_of(registered_at)] += 1
    return {name: dict(sorted(found.items())) for name, found in by.items()}


def leads_by_town(conn: Connection, prefixes: Mapping[str, str]) -> dict[str, int]:
    """How many leads each town (code: ledger prefix) has filed."""
    return {
        town: int(conn.execute(select(func.count()).where(in_town(prefix))).scalar_one())
        for town, prefix in prefixes.items()
    }
