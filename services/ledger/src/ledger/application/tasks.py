"""The commands and reads of tasks and rectification items (工作任务清单, 整改台账), each in
one place: the item is loaded from its own events (``ledger.task.<id>.>``), whether the
principal may see it is decided first (an item one may not see answers as one that does
not exist), the rules decide, and the decision is appended with the item's last sequence
(two people acting at once cannot both win: the second gets 409)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from common.auth import Principal
from common.errors import NotFound, RuleViolation
from common.events import Event, utc_now
from common.events.catalogue import Attachment, LedgerExported
from common.events.tasks import TaskSource, TaskViewed
from common.eventstore import LeadHistory
from common.subjects import Stream
from ledger.application import conflict, items
from ledger.application.handling import check_assignee
from ledger.application.reading import in_one_go, read_current
from ledger.domain import task as rules
from ledger.domain.task import Responsibility, Task
from ledger.projection import task_queries
from ledger.projection.task_queries import Reader, TaskFilters

if TYPE_CHECKING:
    from ledger.application.context import Ledger


KIND: Final = "task"
# An item that does not exist and one the principal may not see get the same answer.
NO_SUCH_TASK: Final = "no such task, or not one you may see"


@dataclass(frozen=True)
class OpenTask:
    source: TaskSource
    source_ref: str
    problem: str
    measures: tuple[str, ...]
    unit: str
    assignee: str
    assignee_name: str
    deadline: datetime
    list_id: str | None = None


@dataclass(frozen=True)
class TaskRecorded:
    """What a command appended, and the item as the event leaves it."""

    event: Event
    task: Task


@dataclass(frozen=True)
class TaskInFull:
    task: Task
    history: LeadHistory


def town_of(ledger: Ledger, unit: str | None) -> str | None:
    """The town a unit belongs to; None for the county's own units."""
    town = ledger.runtime.org.town_of(unit)
    return town.code if town is not None else None


def reader(ledger: Ledger, principal: Principal) -> Reader:
    org = ledger.runtime.org
    return Reader(
        principal.role,
        principal.unit,
        town_of(ledger, principal.unit),
        org.is_county_level(principal.unit),
    )


def _check_town(ledger: Ledger, principal: Principal, unit: str) -> None:
    """A town's office gives items to its own town's units; the county's, to any."""
    mine = reader(ledger, principal)
    if not mine.county and town_of(ledger, unit) != mine.town:
        raise RuleViolation(
            f"{unit} is not a unit of your town",
            f"{unit} 不是本镇（乡）的单位",
            field="unit",
        )


# --- commands ---------------------------------------------------------------------------


async def open_task(
    ledger: Ledger, command: OpenTask, principal: Principal, key: str | None = None
) -> TaskRecorded:
    """Open an item. With ``key`` (a client's Idempotency-Key), a retry gets the item the
    first attempt opened, never a second one."""
    rules.office_only(principal.actor, "open an item")
    task_id = items.keyed_id(principal, key) if key is not None else uuid.uuid4().hex
    if key is not None:
        earlier = await _history(ledger, task_id)
        if earlier.events:
            first = earlier.events[0].event
            return TaskRecorded(first, rules.fold(e.event for e in earlier.events))
    who = await checked_responsibility(
        ledger, command.unit, command.assignee, command.assignee_name, command.deadline
    )
    _check_town(ledger, principal, command.unit)
    event = rules.open_task(
        task_id,
        command.source,
        command.source_ref,
        command.problem,
        command.measures,
        who,
        command.list_id,
        principal.actor,
        utc_now(),
    )
    await conflict.check_task_conflict(
        ledger, task_id, event.problem, event.measures, event.unit, event.assignee
    )
    # A new id has no events: the append expects none (an id taken twice is refused).
    await items.record(ledger, event, 0)
    return TaskRecorded(event, rules.opened(event))


async def report_progress(
    ledger: Ledger,
    task_id: str,
    text: str,
    evidence: Sequence[Attachment],
    principal: Principal,
) -> TaskRecorded:
    return await _decide(
        ledger,
        task_id,
        principal,
        lambda task: rules.report_progress(task, text, evidence, principal.actor),
    )


async def request_closure(
    ledger: Ledger, task_id: str, summary: str, principal: Principal
) -> TaskRecorded:
    return await _decide(
        ledger, task_id, principal, lambda t: rules.request_closure(t, summary, principal.actor)
    )


async def close(ledger: Ledger, task_id: str, note: str, principal: Principal) -> TaskRecorded:
    return await _decide(
        ledger, task_id, principal, lambda t: rules.close(t, note, principal.actor)
    )


async def return_task(
    ledger: Ledger, task_id: str, reason: str, principal: Principal
) -> TaskRecorded:
    return await _decide(
        ledger, task_id, principal, lambda t: rules.return_task(t, reason, principal.actor)
    )


async def reassign(
    ledger: Ledger,
    task_id: str,
    unit: str,
    assignee: str,
    assignee_name: str,
    deadline: datetime,
    reason: str,
    principal: Principal,
) -> TaskRecorded:
    task, sequence = await _visible(ledger, task_id, principal)
    # Who may is said before the unit and person asked for are looked into.
    rules.office_only(principal.actor, "reassign an item")
    who = await checked_responsibility(ledger, unit, assignee, assignee_name, deadline)
    _check_town(ledger, principal, unit)
    event = rules.reassign(task, who, reason, principal.actor, utc_now())
    if event.assignee != task.assignee:
        # A person kept on (only the deadline changes) was judged when made responsible.
        await conflict.check_task_conflict(
            ledger, task.task_id, task.problem, task.measures, event.unit, event.assignee
        )
    await items.record(ledger, event, sequence)
    return TaskRecorded(event, rules.evolve(task, event))


async def _decide(
    ledger: Ledger, task_id: str, principal: Principal, decide: Callable[[Task], Event]
) -> TaskRecorded:
    task, sequence = await _visible(ledger, task_id, principal)
    event = decide(task)
    await items.record(ledger, event, sequence)
    return TaskRecorded(event, rules.evolve(task, event))


async def _history(ledger: Ledger, task_id: str) -> LeadHistory:
    return await ledger.runtime.store(Stream.LEDGER).read_item(KIND, task_id)


async def _visible(ledger: Ledger, task_id: str, principal: Principal) -> tuple[Task, int]:
    task, history = await _seen(ledger, task_id, principal)
    return task, history.last_sequence


async def _seen(ledger: Ledger, task_id: str, principal: Principal) -> tuple[Task, LeadHistory]:
    """The item as its events make it, if the principal may see it; otherwise the very 404
    an item that does not exist gets."""
    history = await _history(ledger, task_id)
    try:
        task = rules.fold(stored.event for stored in history.events)
    except NotFound as exc:
        raise NotFound(NO_SUCH_TASK) from exc
    mine = reader(ledger, principal)
    if not rules.may_see(task.unit, task.town, mine.role, mine.unit, mine.town, county=mine.county):
        raise NotFound(NO_SUCH_TASK)
    return task, history


async def checked_responsibility(
    ledger: Ledger, unit: str, assignee: str, assignee_name: str, deadline: datetime
) -> Responsibility:
    """The responsible unit and person, checked: a unit of the organisation, and a person
    of it who can sign in."""
    if ledger.runtime.org.unit(unit) is None:
        raise RuleViolation(f"unknown unit {unit!r}", f"没有这个单位 {unit!r}", field="unit")
    await asyncio.to_thread(check_assignee, ledger, unit, assignee)
    return Responsibility(unit, assignee, assignee_name, deadline, town_of(ledger, unit))


# --- reads ------------------------------------------------------------------------------


async def read_in_full(ledger: Ledger, task_id: str, principal: Principal) -> TaskInFull:
    """The item and its history; recorded as read once it is known the reader may."""
    task, history = await _seen(ledger, task_id, principal)
    await ledger.runtime.record_access(
        TaskViewed(task_id=task_id, service="ledger", actor=principal.actor)
    )
    return TaskInFull(task, history)


async def page(
    ledger: Ledger, principal: Principal, chosen: TaskFilters, number: int, size: int
) -> tuple[int, list[dict[str, Any]]]:
    now, mine = utc_now(), reader(ledger, principal)
    return await read_current(
        ledger, lambda conn: task_queries.page(conn, mine, chosen, now, number, size)
    )


async def export_rows(
    ledger: Ledger, principal: Principal, chosen: TaskFilters
) -> list[dict[str, Any]]:
    """The rows of the 整改台账 export, recorded as exported."""
    now, mine = utc_now(), reader(ledger, principal)
    rows = await in_one_go(ledger, lambda conn: task_queries.exported(conn, mine, chosen, now))
    await ledger.runtime.record_access(
        LedgerExported(
            service="ledger",
            format="xlsx",
            filters={"ledger": "tasks", **chosen.as_dict()},
            row_count=len(rows),
            actor=principal.actor,
        )
    )
    return rows
