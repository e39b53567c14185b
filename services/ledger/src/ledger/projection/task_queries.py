"""Reads of the task list and rectification ledger, scoped to what the reader may see
(the rule is :func:`ledger.domain.task.may_see`, here as SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, and_, false, func, not_, or_, select, true

from common.events import Role
from ledger.domain.task import WHOLE_TOWN, TaskStatus
from ledger.projection.tasks import tasks

#: The most rows an export holds: far over a town's items of several years.
MOST_EXPORTED: Final = 20_000


@dataclass(frozen=True)
class Reader:
    role: Role
    unit: str | None
    town: str | None
    #: one of the county's own units: sees every town
    county: bool = False


@dataclass(frozen=True)
class TaskFilters:
    unit: str | None = None
    status: str | None = None
    source: str | None = None
    overdue: bool | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v is not None}


def _visible(reader: Reader) -> ColumnElement[bool]:
    own = tasks.c.unit == reader.unit if reader.unit is not None else false()
    if reader.role not in WHOLE_TOWN:
        return own
    if reader.county:
        return true()
    return or_(tasks.c.town == reader.town, own) if reader.town is not None else own


def _overdue(now: datetime) -> ColumnElement[bool]:
    return and_(tasks.c.deadline < now, tasks.c.status != TaskStatus.CLOSED.value)


def _where(reader: Reader, chosen: TaskFilters, now: datetime) -> ColumnElement[bool]:
    conditions = [_visible(reader)]
    if chosen.unit is not None:
        conditions.append(tasks.c.unit == chosen.unit)
    if chosen.status is not None:
        conditions.append(tasks.c.status == chosen.status)
    if chosen.source is not None:
        conditions.append(tasks.c.source == chosen.source)
    if chosen.overdue is not None:
        conditions.append(_overdue(now) if chosen.overdue else not_(_overdue(now)))
    return and_(*conditions)


def page(
    conn: Connection, reader: Reader, chosen: TaskFilters, now: datetime, number: int, size: int
) -> tuple[int, list[dict[str, Any]]]:
    """One page of the items, newest first, and how many there are."""
    where = _where(reader, chosen, now)
    total = conn.execute(select(func.count()).select_from(tasks).where(where)).scalar_one()
    rows = conn.execute(
        select(tasks)
        .where(where)
        .order_by(tasks.c.opened_at.desc(), tasks.c.task_id)
        .limit(size)
        .offset((number - 1) * size)
    ).mappings()
    return int(total), [dict(r) for r in rows]


def exported(
    conn: Connection, reader: Reader, chosen: TaskFilters, now: datetime
) -> list[dict[str, Any]]:
    """The rows of an export, oldest first (the ledger's numbering order)."""
    rows = conn.execute(
        select(tasks)
        .where(_where(reader, chosen, now))
        .order_by(tasks.c.opened_at, tasks.c.task_id)
        .limit(MOST_EXPORTED)
    ).mappings()
    return [dict(r) for r in rows]
