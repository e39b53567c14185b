"""Reads for campaigns (自查自纠, 回头看): the campaigns a reader may see, the leads concluded
in a period (what a look-back samples from) and what became of a campaign's rectification
items. Plain functions of a synchronous connection, run on a worker thread."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ledger.projection.campaigns import asked, campaigns
from ledger.projection.tables import leads
from ledger.projection.tasks import tasks


def listed(
    conn: Connection, unit: str | None, *, every: bool, limit: int, offset: int
) -> list[dict[str, Any]]:
    """Every campaign (``every``), or those asking ``unit``; latest change first."""
    query = select(campaigns)
    if not every:
        query = query.where(
            campaigns.c.campaign_id.in_(select(asked.c.campaign_id).where(asked.c.unit == unit))
        )
    query = query.order_by(campaigns.c.updated_at.desc(), campaigns.c.campaign_id)
    rows = []
    for found in conn.execute(query.limit(limit).offset(offset)):
        row = dict(found._mapping)
        row["items"] = json.loads(row["items"])
        rows.append(row)
    return rows


def concluded_between(conn: Connection, start: datetime, end: datetime) -> list[str]:
    """The leads concluded from ``start`` up to ``end`` (excluded), by id."""
    return list(
        conn.scalars(
            select(leads.c.lead_id)
            .where((leads.c.concluded_at >= start) & (leads.c.concluded_at < end))
            .order_by(leads.c.lead_id)
        )
    )


def task_states(conn: Connection, task_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The rectification items' status and latest progress, by id (those the read model has
    applied)."""
    if not task_ids:
        return {}
    rows = conn.execute(
        select(tasks.c.task_id, tasks.c.status, tasks.c.latest_progress, tasks.c.closed_at).where(
            tasks.c.task_id.in_(task_ids)
        )
    )
    return {r.task_id: dict(r._mapping) for r in rows}
