"""Reads for campaigns (自查自纠, 回头看): the campaigns a reader may see, the leads concluded
in a period (what a look-back samples from) and what became of a campaign's rectification
items. Plain functions of a synchronous connection, run on a worker thread."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from ledger.domain.campaign import Viewer, unit_answered_late
from ledger.domain.task import WHOLE_TOWN
from ledger.projection.campaigns import asked, campaigns
from ledger.projection.queries import in_town
from ledger.projection.tables import leads
from ledger.projection.tasks import tasks


def listed(conn: Connection, viewer: Viewer, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """The campaigns ``viewer`` may see (ledger.domain.campaign.may_see), latest change
    first; with when the viewer's own unit answered (``unit_answered_at``: None when it has
    not, or is not asked) and whether that was after the deadline (``unit_answered_late``)."""
    mine = asked.alias("mine")
    query = select(campaigns, mine.c.unit_answered_at).outerjoin(
        mine, (mine.c.campaign_id == campaigns.c.campaign_id) & (mine.c.unit == viewer.unit)
    )
    if not (viewer.role in WHOLE_TOWN and viewer.county):
        asking: ColumnElement[bool] = campaigns.c.campaign_id.in_(
            select(asked.c.campaign_id).where(asked.c.unit == viewer.unit)
        )
        if viewer.role in WHOLE_TOWN and viewer.town is not None:
            asking = asking | (campaigns.c.town == viewer.town)
        query = query.where(asking)
    query = query.order_by(campaigns.c.updated_at.desc(), campaigns.c.campaign_id)
    rows = []
    for found in conn.execute(query.limit(limit).offset(offset)):
        row = dict(found._mapping)
        row["items"] = json.loads(row["items"])
        row["unit_answered_late"] = unit_answered_late(row["deadline"], row["unit_answered_at"])
        rows.append(row)
    return rows


def concluded_between(
    conn: Connection, start: datetime, end: datetime, prefix: str | None
) -> list[str]:
    """The leads concluded from ``start`` up to ``end`` (excluded), by id; of one town's
    ledger (``prefix``) or of every town's."""
    rule = (leads.c.concluded_at >= start) & (leads.c.concluded_at < end)
    if prefix is not None:
        rule = rule & in_town(prefix)
    return list(conn.scalars(select(leads.c.lead_id).where(rule).order_by(leads.c.lead_id)))


def ledger_numbers(conn: Connection, lead_ids: list[str]) -> dict[str, str]:
    """The sampled leads' ledger numbers (台账编号), by id."""
    if not lead_ids:
        return {}
    rows = conn.execute(
        select(leads.c.lead_id, leads.c.ledger_number).where(leads.c.lead_id.in_(lead_ids))
    )
    return {r.lead_id: r.ledger_number for r in rows}


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
