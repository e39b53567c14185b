"""What the committee knows of the rectification ledger (整改台账): each item's responsible
unit and person, deadline and where it stands, folded from the ledger's task events, so
that the items past their deadline and not closed (销号) are watched like overdue leads.
Part of oversight's own read model (same version and positions), rebuilt by replay with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Column, Index, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncConnection

from common.batchwriter import BatchWriter
from common.database import UtcDateTime
from common.events import Event
from common.events.tasks import (
    TaskClosed,
    TaskClosureRequested,
    TaskOpened,
    TaskProgressReported,
    TaskReassigned,
    TaskReturned,
)
from common.projection import Handler, versioned
from oversight.projection.scope import Towns, units_in
from oversight.projection.tables import VERSION, metadata

CLOSED: Final = "closed"

tasks = Table(
    versioned("oversight_tasks", VERSION),
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("source", String(20), nullable=False),
    Column("problem", Text, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("assignee", String(64), nullable=False),
    Column("assignee_name", String(100), nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("town", String(40)),
    Column("status", String(20), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The open items by deadline: the overdue ones are the first of them.
    Index(versioned("ix_oversight_tasks_status", VERSION), "status", "deadline"),
)

# Where each step leaves an item (the ledger's codes: ledger.domain.task.TaskStatus).
_STATUS: Final[dict[type[Event], str]] = {
    TaskProgressReported: "open",
    TaskClosureRequested: "closure_requested",
    TaskReturned: "returned",
    TaskClosed: CLOSED,
}


def _opened(db: BatchWriter, event: TaskOpened) -> None:
    db.put(
        tasks,
        {
            "task_id": event.task_id,
            "source": event.source.value,
            "problem": event.problem,
            "unit": event.unit,
            "assignee": event.assignee,
            "assignee_name": event.assignee_name,
            "deadline": event.deadline,
            "town": event.town,
            "status": "open",
            "opened_at": event.occurred_at,
            "updated_at": event.occurred_at,
        },
    )


def _stepped(db: BatchWriter, event: Event) -> None:
    row = db.get(tasks, event.subject_id)
    if row is None:
        return  # an item never opened
    row.update(status=_STATUS[type(event)], updated_at=event.occurred_at)
    db.put(tasks, row)


def _reassigned(db: BatchWriter, event: TaskReassigned) -> None:
    row = db.get(tasks, event.task_id)
    if row is None:
        return
    row.update(
        unit=event.unit,
        assignee=event.assignee,
        assignee_name=event.assignee_name,
        deadline=event.deadline,
        town=event.town,
        updated_at=event.occurred_at,
    )
    db.put(tasks, row)


HANDLERS: Final[dict[type[Event], Handler]] = {
    TaskOpened: _opened,
    TaskReassigned: _reassigned,
    **dict.fromkeys(_STATUS, _stepped),
}


async def overdue(
    conn: AsyncConnection, towns: Towns, now: datetime, unit: str | None, limit: int
) -> list[dict[str, Any]]:
    """The items of units of ``towns`` past their deadline and not closed, the longest
    overdue first."""
    where = (tasks.c.status != CLOSED) & (tasks.c.deadline < now) & units_in(towns, tasks.c.unit)
    if unit is not None:
        where &= tasks.c.unit == unit
    rows = await conn.execute(
        select(tasks).where(where).order_by(tasks.c.deadline, tasks.c.task_id).limit(limit)
    )
    return [dict(r) for r in rows.mappings()]
