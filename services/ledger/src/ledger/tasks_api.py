"""The task list and rectification ledger's HTTP API (工作任务清单, 整改台账): open an item,
list and read items, report progress, ask for closure, close it (销号) or return it,
reassign it, and export the ledger.

Visibility comes first: the responsible unit sees its own items; the office, clerks,
auditors and the discipline committee see their town's; for anyone else an item does not
exist (404). A visible item one may not change answers 403."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel

from common.auth import Principal, require_roles
from common.events import Role, utc_now
from common.events.tasks import TASK_ID, UNIT, TaskSource
from common.eventstore import LeadHistory
from common.http_errors import errors
from common.organisation import Organisation
from ledger.api import DEFAULT_PAGE_SIZE, LARGEST_PAGE_SIZE, MAX_PAGE, XLSX, LedgerDep, history
from ledger.application import Ledger, towns
from ledger.application import tasks as app
from ledger.application.tasks import OpenTask, TaskRecorded
from ledger.domain.task import SOURCE_LABELS, STATUS_LABELS, Task, TaskStatus
from ledger.idempotency import IdempotencyKey
from ledger.projection.task_queries import TaskFilters
from ledger.projection.tasks import as_task
from ledger.task_export import to_xlsx
from ledger.task_schemas import (
    CloseIn,
    ClosureIn,
    ProgressIn,
    ReassignIn,
    ReturnTaskIn,
    TaskDetail,
    TaskDone,
    TaskIn,
    TaskOut,
    TaskPage,
)

# Every signed-in person: which items they see is the visibility rule's to say.
Staff = Annotated[
    Principal, Depends(require_roles(*(r for r in Role if r not in (Role.REPORTER, Role.SYSTEM))))
]
TaskId = Annotated[str, Path(pattern=TASK_ID, description="事项编号 / The item's id")]
_NO_HISTORY: Final = LeadHistory((), 0)

router = APIRouter(prefix="/v1/ledger/tasks", tags=["tasks"], responses=errors(503))


def task_out(task: Task, org: Organisation, now: datetime) -> TaskOut:
    source_zh, source_en = SOURCE_LABELS[TaskSource(task.source)]
    status_zh, status_en = STATUS_LABELS[TaskStatus(task.status)]
    unit = org.unit(task.unit)
    return TaskOut(
        **{k: v for k, v in task.__dict__.items() if k != "fresh_progress"},
        source_label=source_zh,
        source_label_en=source_en,
        status_label=status_zh,
        status_label_en=status_en,
        unit_name=unit.name if unit else task.unit,
        overdue=task.overdue(now),
    )


def _done(ledger: Ledger, recorded: TaskRecorded) -> TaskDone:
    return TaskDone(
        event_id=recorded.event.event_id,
        event_type=recorded.event.event_type,
        task=task_out(recorded.task, ledger.runtime.org, utc_now()),
    )


async def filters(
    unit: Annotated[str | None, Query(pattern=UNIT, max_length=40)] = None,
    status: TaskStatus | None = None,
    source: TaskSource | None = None,
    overdue: bool | None = None,
) -> TaskFilters:
    return TaskFilters(
        unit=unit,
        status=status.value if status else None,
        source=source.value if source else None,
        overdue=overdue,
    )


FiltersDep = Annotated[TaskFilters, Depends(filters)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskDone,
    summary="新增整改事项或工作任务 / Open a task or rectification item (office and clerks)",
    responses=errors(403),
)
async def open_task(
    body: TaskIn,
    principal: Staff,
    ledger: LedgerDep,
    response: Response,
    key: IdempotencyKey = None,
) -> TaskDone:
    recorded = await app.open_task(ledger, opening(body), principal, key)
    response.headers["Location"] = f"{router.prefix}/{recorded.task.task_id}"
    return _done(ledger, recorded)


@router.get(
    "",
    response_model=TaskPage,
    summary="整改台账：筛选、分页 / The items you may see, filtered and paged, newest first",
)
async def list_tasks(
    principal: Staff,
    ledger: LedgerDep,
    chosen: FiltersDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=LARGEST_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> TaskPage:
    total, rows = await app.page(ledger, principal, chosen, page, page_size)
    now, org = utc_now(), ledger.runtime.org
    return TaskPage(
        total=total,
        page=page,
        page_size=page_size,
        items=[task_out(as_task(r), org, now) for r in rows],
    )


@router.get(
    "/export.xlsx",
    summary="导出整改台账 / The rectification ledger as XLSX (the export is recorded)",
    response_class=Response,
    responses={200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def export(
    principal: Staff, ledger: LedgerDep, chosen: FiltersDep, lang: Literal["zh", "en"] = "zh"
) -> Response:
    rows = await app.export_rows(ledger, principal, chosen)
    org, now = ledger.runtime.org, utc_now()
    # Named after the reader's own town (a unit's people read their unit's items of it),
    # else the ledger they read: the county's for its own units.
    town = org.town_of(principal.unit) or towns.whose_ledger(org, principal)
    title = f"{town.name}整改台账" if lang == "zh" else f"{town.name_en} rectification ledger"
    return Response(
        to_xlsx(rows, org, lang, title, now),
        media_type=XLSX,
        headers={
            "Content-Disposition": (
                f'attachment; filename="tasks-{town.code}-{now.strftime("%Y%m%d")}.xlsx"'
            )
        },
    )


@router.get(
    "/{task_id}",
    response_model=TaskDetail,
    summary="一个事项及其全过程（查阅留痕） / One item and its history (the read is recorded)",
    responses=errors(404),
)
async def get_task(task_id: TaskId, principal: Staff, ledger: LedgerDep) -> TaskDetail:
    found = await app.read_in_full(ledger, task_id, principal)
    shown = task_out(found.task, ledger.runtime.org, utc_now())
    return TaskDetail(**shown.model_dump(), history=history(found.history, _NO_HISTORY))


def _command(path: str, summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.post(
        f"/{{task_id}}/{path}",
        summary=summary,
        response_model=TaskDone,
        responses=errors(403, 404, 409),
    )


@_command("progress", "报送整改进展 / Report progress, with evidence (the responsible unit)")
async def progress(
    task_id: TaskId, body: ProgressIn, principal: Staff, ledger: LedgerDep
) -> TaskDone:
    return _done(ledger, await perform(ledger, task_id, body, principal))


@_command("request-closure", "申请销号 / Ask the office to close the item (the responsible unit)")
async def request_closure(
    task_id: TaskId, body: ClosureIn, principal: Staff, ledger: LedgerDep
) -> TaskDone:
    return _done(ledger, await perform(ledger, task_id, body, principal))


@_command("close", "销号 / Close the item (office and clerks, after a request)")
async def close(task_id: TaskId, body: CloseIn, principal: Staff, ledger: LedgerDep) -> TaskDone:
    return _done(ledger, await perform(ledger, task_id, body, principal))


@_command("return", "退回整改 / Refuse the closure, with the reason (office and clerks)")
async def return_task(
    task_id: TaskId, body: ReturnTaskIn, principal: Staff, ledger: LedgerDep
) -> TaskDone:
    return _done(ledger, await perform(ledger, task_id, body, principal))


@_command("reassign", "调整责任单位、责任人或时限 / Reassign the item (office and clerks)")
async def reassign(
    task_id: TaskId, body: ReassignIn, principal: Staff, ledger: LedgerDep
) -> TaskDone:
    return _done(ledger, await perform(ledger, task_id, body, principal))


# The API's bodies as the application's commands; the desk's forms are read into the same.


def opening(body: TaskIn) -> OpenTask:
    return OpenTask(
        source=body.source,
        source_ref=body.source_ref,
        problem=body.problem,
        measures=tuple(body.measures),
        unit=body.unit,
        assignee=body.assignee,
        assignee_name=body.assignee_name,
        deadline=body.deadline,
        list_id=body.list_id,
    )


async def perform(
    ledger: Ledger, task_id: str, body: BaseModel, principal: Principal
) -> TaskRecorded:
    """One step on an item, by the body that asks for it."""
    match body:
        case ProgressIn():
            evidence = [e.recorded() for e in body.evidence]
            return await app.report_progress(ledger, task_id, body.progress, evidence, principal)
        case ClosureIn():
            return await app.request_closure(ledger, task_id, body.outcome, principal)
        case CloseIn():
            return await app.close(ledger, task_id, body.note, principal)
        case ReturnTaskIn():
            return await app.return_task(ledger, task_id, body.reason, principal)
        case ReassignIn():
            return await app.reassign(
                ledger,
                task_id,
                body.unit,
                body.assignee,
                body.assignee_name,
                body.deadline,
                body.reason,
                principal,
            )
    raise TypeError(f"no step is asked for by {type(body).__name__}")
