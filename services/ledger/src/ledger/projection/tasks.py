"""The task list and rectification ledger's read model (工作任务清单, 整改台账): one row per
item as its events leave it, folded by the same rules the commands decide on
(:mod:`ledger.domain.task`).

Its table is one of the ledger read model's (same version, same positions), so a replay
rebuilds it with the rest, ``--until`` a moment included."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any, Final

from sqlalchemy import Column, Index, Integer, String, Table, Text

from common.batchwriter import BatchWriter, Row
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
from ledger.domain import task as rules
from ledger.domain.task import Task
from ledger.projection.tables import VERSION, metadata

tasks = Table(
    versioned("ledger_tasks", VERSION),
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("source", String(20), nullable=False),
    Column("source_ref", String(200), nullable=False, default=""),
    Column("problem", Text, nullable=False),
    # JSON: the measures, in order
    Column("measures", Text, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("assignee", String(64), nullable=False),
    Column("assignee_name", String(100), nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("town", String(40)),
    Column("list_id", String(64)),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("progress_count", Integer, nullable=False, default=0),
    Column("fresh_progress", Integer, nullable=False, default=0),
    Column("latest_progress", Text),
    Column("latest_progress_at", UtcDateTime),
    Column("closure_requested_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("return_reason", Text),
    # A list walks one of these in its order (newest first) and stops at the page.
    Index(versioned("ix_ledger_tasks_town", VERSION), "town", "opened_at"),
    Index(versioned("ix_ledger_tasks_unit", VERSION), "unit", "opened_at"),
    Index(versioned("ix_ledger_tasks_status", VERSION), "status", "deadline"),
)

_FIELDS: Final = tuple(f.name for f in fields(Task))


def as_row(task: Task) -> Row:
    row = asdict(task)
    row["measures"] = json.dumps(task.measures, ensure_ascii=False)
    return row


def as_task(row: Row | dict[str, Any]) -> Task:
    values = {name: row[name] for name in _FIELDS}
    values["measures"] = tuple(json.loads(row["measures"]))
    return Task(**values)


def _opened(db: BatchWriter, event: TaskOpened) -> None:
    db.put(tasks, as_row(rules.opened(event)))


def _changed(db: BatchWriter, event: Event) -> None:
    row = db.get(tasks, event.subject_id)
    if row is None:
        return  # an item never opened: nothing to change
    db.put(tasks, as_row(rules.evolve(as_task(row), event)))


HANDLERS: Final[dict[type[Event], Handler]] = {
    TaskOpened: _opened,
    TaskProgressReported: _changed,
    TaskClosureRequested: _changed,
    TaskClosed: _changed,
    TaskReturned: _changed,
    TaskReassigned: _changed,
}
