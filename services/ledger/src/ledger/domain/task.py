"""A task or rectification item (工作任务清单, 整改台账): its state folded from its events, who
may see and change it, and the decisions made on it.

The life of an item: opened by the office; the responsible unit reports progress (with
evidence) and asks to close it; the office closes it (销号) or returns it, after which the
unit goes on and asks again. A closed item is final. Every decision returns the event to
append, or raises: RuleViolation (422, naming the field when one is at fault), Settled (409,
the item is closed), NotPermitted (403: the item is visible, the change is not yours).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from common.errors import NotFound, NotPermitted, RuleViolation, Settled
from common.events import Actor, Event, Role
from common.events.catalogue import Attachment
from common.events.tasks import (
    LONGEST_MEASURE,
    LONGEST_NAME,
    LONGEST_PROBLEM,
    LONGEST_REASON,
    LONGEST_REPORT,
    LONGEST_SOURCE_REF,
    MOST_EVIDENCE,
    MOST_MEASURES,
    TaskClosed,
    TaskClosureRequested,
    TaskOpened,
    TaskProgressReported,
    TaskReassigned,
    TaskReturned,
    TaskSource,
)
from common.vocabulary import TASK_SOURCES, TASK_STATUSES, Language


class TaskStatus(StrEnum):
    OPEN = "open"
    CLOSURE_REQUESTED = "closure_requested"
    RETURNED = "returned"
    CLOSED = "closed"


STATUS_LABELS: Final[dict[TaskStatus, tuple[str, str]]] = {
    TaskStatus(code): text for code, text in TASK_STATUSES.items()
}
SOURCE_LABELS: Final[dict[TaskSource, tuple[str, str]]] = {
    TaskSource(code): text for code, text in TASK_SOURCES.items()
}


def status_label(status: str, lang: Language = "zh") -> str:
    zh, en = STATUS_LABELS[TaskStatus(status)]
    return zh if lang == "zh" else en


def source_label(source: str, lang: Language = "zh") -> str:
    zh, en = SOURCE_LABELS[TaskSource(source)]
    return zh if lang == "zh" else en


#: who opens items, reassigns them and decides on their closure
OFFICE_ROLES: Final = frozenset({Role.OFFICE, Role.CLERK})
#: who sees every item of their town (the others only their own unit's)
WHOLE_TOWN: Final = frozenset({Role.OFFICE, Role.CLERK, Role.AUDITOR, Role.DISCIPLINE})


@dataclass(frozen=True)
class Task:
    """An item as its events leave it; the read model's row holds the same fields."""

    task_id: str
    source: str
    source_ref: str
    problem: str
    measures: tuple[str, ...]
    unit: str
    assignee: str
    assignee_name: str
    deadline: datetime
    town: str | None
    list_id: str | None
    opened_at: datetime
    updated_at: datetime
    status: str = TaskStatus.OPEN.value
    progress_count: int = 0
    #: progress reported since the item was opened or last returned
    fresh_progress: int = 0
    latest_progress: str | None = None
    latest_progress_at: datetime | None = None
    closure_requested_at: datetime | None = None
    closed_at: datetime | None = None
    return_reason: str | None = None

    @property
    def closed(self) -> bool:
        return self.status == TaskStatus.CLOSED

    def overdue(self, now: datetime) -> bool:
        return not self.closed and self.deadline < now


def opened(event: TaskOpened) -> Task:
    return Task(
        task_id=event.task_id,
        source=event.source.value,
        source_ref=event.source_ref,
        problem=event.problem,
        measures=event.measures,
        unit=event.unit,
        assignee=event.assignee,
        assignee_name=event.assignee_name,
        deadline=event.deadline,
        town=event.town,
        list_id=event.list_id,
        opened_at=event.occurred_at,
        updated_at=event.occurred_at,
    )


def fold(events: Iterable[Event]) -> Task:
    task: Task | None = None
    for event in events:
        if isinstance(event, TaskOpened):
            task = opened(event)
        elif task is not None:
            task = evolve(task, event)
    if task is None:
        raise NotFound("no such task")
    return task


def evolve(task: Task, event: Event) -> Task:
    """The item after one more event."""
    at = event.occurred_at
    match event:
        case TaskProgressReported():
            return replace(
                task,
                status=TaskStatus.OPEN.value,
                progress_count=task.progress_count + 1,
                fresh_progress=task.fresh_progress + 1,
                latest_progress=event.text,
                latest_progress_at=at,
                updated_at=at,
            )
        case TaskClosureRequested():
            return replace(
                task,
                status=TaskStatus.CLOSURE_REQUESTED.value,
                closure_requested_at=at,
                updated_at=at,
            )
        case TaskClosed():
            return replace(task, status=TaskStatus.CLOSED.value, closed_at=at, updated_at=at)
        case TaskReturned():
            return replace(
                task,
                status=TaskStatus.RETURNED.value,
                return_reason=event.reason,
                fresh_progress=0,
                updated_at=at,
            )
        case TaskReassigned():
            return replace(
                task,
                unit=event.unit,
                assignee=event.assignee,
                assignee_name=event.assignee_name,
                deadline=event.deadline,
                town=event.town,
                updated_at=at,
            )
    return task


# --- who ------------------------------------------------------------------------------


def may_see(
    unit: str,
    town: str | None,
    role: Role,
    reader_unit: str | None,
    reader_town: str | None,
    *,
    county: bool = False,
) -> bool:
    """The office, clerks, auditors and the committee see their town's items (the county's
    own, every town's); everyone else only the items their own unit is responsible for."""
    if role in WHOLE_TOWN and (county or (town is not None and town == reader_town)):
        return True
    return reader_unit is not None and reader_unit == unit


def office_only(actor: Actor, doing: str) -> None:
    if actor.role not in OFFICE_ROLES:
        raise NotPermitted(f"only the office or a clerk may {doing}")


def _responsible(task: Task, actor: Actor, doing: str) -> None:
    if actor.unit != task.unit:
        raise NotPermitted(f"only the responsible unit ({task.unit}) may {doing}")


def _not_closed(task: Task) -> None:
    if task.closed:
        raise Settled("the item is closed (销号): it cannot change", "该事项已销号，不能再变更")


# --- bounds -----------------------------------------------------------------------------


def text(value: str, field: str, longest: int, *, required: bool = True) -> str:
    """The text as recorded (trimmed), or a RuleViolation naming the field."""
    value = value.strip()
    if required and not value:
        raise RuleViolation(f"{field} is empty", "不能为空", field=field)
    if len(value) > longest:
        raise RuleViolation(
            f"{field} is longer than {longest} characters",
            f"不能超过 {longest} 个字",
            field=field,
        )
    return value


def measures_of(given: Sequence[str]) -> tuple[str, ...]:
    kept = tuple(m.strip() for m in given if m.strip())
    if not kept:
        raise RuleViolation(
            "at least one measure is needed", "至少列出一项整改措施", field="measures"
        )
    if len(kept) > MOST_MEASURES:
        raise RuleViolation(
            f"at most {MOST_MEASURES} measures",
            f"整改措施不能超过 {MOST_MEASURES} 项",
            field="measures",
        )
    return tuple(text(m, "measures", LONGEST_MEASURE) for m in kept)


def _future(deadline: datetime, now: datetime) -> None:
    if deadline <= now:
        raise RuleViolation(
            "the deadline must be in the future", "整改时限必须晚于现在", field="deadline"
        )


# --- decisions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Responsibility:
    unit: str
    assignee: str
    assignee_name: str
    deadline: datetime
    town: str | None


def open_task(
    task_id: str,
    source: TaskSource,
    source_ref: str,
    problem: str,
    measures: Sequence[str],
    who: Responsibility,
    list_id: str | None,
    actor: Actor,
    now: datetime,
) -> TaskOpened:
    office_only(actor, "open an item")
    _future(who.deadline, now)
    return TaskOpened(
        task_id=task_id,
        source=source,
        source_ref=text(source_ref, "source_ref", LONGEST_SOURCE_REF, required=False),
        problem=text(problem, "problem", LONGEST_PROBLEM),
        measures=measures_of(measures),
        unit=who.unit,
        assignee=who.assignee,
        assignee_name=text(who.assignee_name, "assignee_name", LONGEST_NAME),
        deadline=who.deadline,
        town=who.town,
        list_id=list_id,
        actor=actor,
    )


def report_progress(
    task: Task, report: str, evidence: Sequence[Attachment], actor: Actor
) -> TaskProgressReported:
    _not_closed(task)
    _responsible(task, actor, "report progress")
    if task.status == TaskStatus.CLOSURE_REQUESTED:
        raise RuleViolation(
            "closure was asked for: wait for the office to close or return the item",
            "已申请销号，请等待办公室销号或退回",
        )
    if len(evidence) > MOST_EVIDENCE:
        raise RuleViolation(
            f"at most {MOST_EVIDENCE} pieces of evidence",
            f"佐证材料不能超过 {MOST_EVIDENCE} 件",
            field="evidence",
        )
    return TaskProgressReported(
        task_id=task.task_id,
        text=text(report, "text", LONGEST_REPORT),
        evidence=tuple(evidence),
        actor=actor,
    )


def request_closure(task: Task, summary: str, actor: Actor) -> TaskClosureRequested:
    _not_closed(task)
    _responsible(task, actor, "ask to close the item")
    if task.status == TaskStatus.CLOSURE_REQUESTED:
        raise RuleViolation("closure was asked for already", "已申请销号，请等待办公室处理")
    if task.fresh_progress == 0:
        raise RuleViolation(
            "report the rectification's progress (with evidence) before asking to close",
            "申请销号前请先报送整改进展及佐证材料",
        )
    return TaskClosureRequested(
        task_id=task.task_id, summary=text(summary, "summary", LONGEST_REPORT), actor=actor
    )


def _awaiting_decision(task: Task, actor: Actor, doing: str) -> None:
    _not_closed(task)
    office_only(actor, doing)
    if task.status != TaskStatus.CLOSURE_REQUESTED:
        raise RuleViolation(
            "the responsible unit has not asked to close the item",
            "责任单位尚未申请销号",
        )


def close(task: Task, note: str, actor: Actor) -> TaskClosed:
    _awaiting_decision(task, actor, "close an item (销号)")
    return TaskClosed(
        task_id=task.task_id,
        note=text(note, "note", LONGEST_REASON, required=False),
        actor=actor,
    )


def return_task(task: Task, reason: str, actor: Actor) -> TaskReturned:
    _awaiting_decision(task, actor, "return an item")
    return TaskReturned(
        task_id=task.task_id, reason=text(reason, "reason", LONGEST_REASON), actor=actor
    )


def reassign(
    task: Task, who: Responsibility, reason: str, actor: Actor, now: datetime
) -> TaskReassigned:
    _not_closed(task)
    office_only(actor, "reassign an item")
    _future(who.deadline, now)
    if (who.unit, who.assignee, who.deadline) == (task.unit, task.assignee, task.deadline):
        raise RuleViolation("nothing changes", "责任单位、责任人和时限均未改变")
    return TaskReassigned(
        task_id=task.task_id,
        unit=who.unit,
        assignee=who.assignee,
        assignee_name=text(who.assignee_name, "assignee_name", LONGEST_NAME),
        deadline=who.deadline,
        town=who.town,
        reason=text(reason, "reason", LONGEST_REASON),
        actor=actor,
    )
