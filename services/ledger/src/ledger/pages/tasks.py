"""The rectification ledger on the desk (整改台账): the items the person may see, a form to
open one (office and clerks), and each item with its measures, its history and a form for
each step the person may take on it now. Forms are read with the API's own input models and
run by the same application the API calls; a refusal is shown at its form, success goes
back to the item (303)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from common.errors import NotFound, NotPermitted, RuleViolation, Settled
from common.events import utc_now
from common.events.files import TaskFileAttached
from common.events.tasks import TASK_ID, TaskSource
from common.eventstore import ConcurrencyConflict
from common.http_errors import describe_errors, describe_violation
from common.web import Language
from common.web.people import LangQuery, check_form
from ledger.application import tasks as app
from ledger.domain.task import OFFICE_ROLES, SOURCE_LABELS, STATUS_LABELS, Task, TaskStatus
from ledger.pages.lead import stale_page
from ledger.pages.shared import Staff, address, message, render, staff
from ledger.projection.task_queries import TaskFilters
from ledger.projection.tasks import as_task
from ledger.schemas import FIELD_LABELS
from ledger.task_schemas import (
    TASK_FIELD_LABELS,
    CloseIn,
    ClosureIn,
    ProgressIn,
    ReassignIn,
    ReturnTaskIn,
    TaskIn,
)
from ledger.tasks_api import opening, perform, task_out

router = APIRouter(include_in_schema=False)

LABELS: Final = {**FIELD_LABELS, **TASK_FIELD_LABELS}
PAGE_SIZE: Final = 200
TaskId = Annotated[str, Path(pattern=TASK_ID)]
FormName = Annotated[str, Path(pattern=r"^[a-z-]{2,20}$")]
NO_SUCH_TASK: Final = (
    "没有这个事项，或您无权查看。",
    "There is no such item, or it is not one you may see.",
)
# Each step's form: its heading, and the API's input model it is read with.
FORMS: Final[dict[str, tuple[tuple[str, str], type[BaseModel]]]] = {
    "progress": (("报送整改进展", "Report progress"), ProgressIn),
    "request-closure": (("申请销号", "Ask to close"), ClosureIn),
    "close": (("销号", "Close (销号)"), CloseIn),
    "return": (("退回整改", "Return"), ReturnTaskIn),
    "reassign": (("调整责任", "Reassign"), ReassignIn),
}


def offered(task: Task, who: Staff) -> list[str]:
    """The steps the person may take on the item now (the rules decide again when sent)."""
    if task.closed:
        return []
    steps: list[str] = []
    if who.principal.unit == task.unit and task.status != TaskStatus.CLOSURE_REQUESTED:
        steps += ["progress", "request-closure"]
    if who.principal.role in OFFICE_ROLES:
        if task.status == TaskStatus.CLOSURE_REQUESTED:
            steps += ["close", "return"]
        steps.append("reassign")
    return steps


def _units(who: Staff, lang: Language) -> list[tuple[str, str]]:
    return [(u.code, u.label(lang)) for u in who.runtime.org.units]


def _choices(lang: Language) -> dict[str, list[tuple[str, str]]]:
    pick = 0 if lang == "zh" else 1
    return {
        "source": [(s.value, names[pick]) for s, names in SOURCE_LABELS.items()],
        "status": [(s.value, names[pick]) for s, names in STATUS_LABELS.items()],
    }


def _body(sent: Mapping[str, str], name: str) -> dict[str, Any]:
    """A form's fields as the API's body: measures one a line, one piece of evidence."""
    body: dict[str, Any] = {k: v for k, v in sent.items() if k != "csrf_token" and v != ""}
    for part in ("name", "size", "sha256"):
        body.pop(f"evidence_{part}", None)
    if name == "open":
        body["measures"] = [line for line in sent.get("measures", "").splitlines() if line.strip()]
    if name == "progress" and sent.get("evidence_name"):
        body["evidence"] = [
            {
                "name": sent.get("evidence_name", ""),
                "size": sent.get("evidence_size") or 0,
                "sha256": sent.get("evidence_sha256", ""),
            }
        ]
    if name == "close":
        body.setdefault("note", "")
    return body


# --- the list -----------------------------------------------------------------------------


async def _list_page(
    request: Request,
    who: Staff,
    lang: Language,
    chosen: TaskFilters,
    status_code: int = 200,
    *,
    problems: list[dict[str, str]] | None = None,
    sent: dict[str, str] | None = None,
) -> Response:
    total, rows = await app.page(who.ledger, who.principal, chosen, 1, PAGE_SIZE)
    now, org = utc_now(), who.runtime.org
    return render(
        request,
        who,
        "tasks.html",
        lang,
        status_code,
        total=total,
        items=[task_out(as_task(r), org, now) for r in rows],
        chosen=chosen,
        may_open=who.principal.role in OFFICE_ROLES,
        choices=_choices(lang),
        units=_units(who, lang),
        problems=problems or [],
        sent=sent or {},
    )


@router.get("/desk/tasks")
async def tasks_page(
    request: Request,
    lang: LangQuery = "zh",
    status: TaskStatus | None = None,
    overdue: bool | None = None,
    source: TaskSource | None = None,
    unit: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    who = staff(request)
    chosen = TaskFilters(
        unit=unit or None,
        status=status.value if status else None,
        source=source.value if source else None,
        overdue=overdue,
    )
    return await _list_page(request, who, lang, chosen)


@router.post("/desk/tasks")
async def open_form(request: Request, lang: LangQuery = "zh") -> Response:
    who = staff(request)
    sent = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        check_form(who.session, sent.get("csrf_token", ""))
    except HTTPException:
        return stale_page(request, who, lang)
    shown: dict[str, Any] = {"sent": sent}
    try:
        body = TaskIn.model_validate(_body(sent, "open"))
        recorded = await app.open_task(who.ledger, opening(body), who.principal)
    except ValidationError as invalid:
        problems = describe_errors(invalid.errors(), LABELS)
        return await _list_page(request, who, lang, TaskFilters(), 422, problems=problems, **shown)
    except RuleViolation as refused:
        problems = describe_violation(refused, LABELS)
        return await _list_page(request, who, lang, TaskFilters(), 422, problems=problems, **shown)
    except NotPermitted as refused:
        problems = [{"field": "", "message": str(refused), "message_en": str(refused)}]
        return await _list_page(request, who, lang, TaskFilters(), 403, problems=problems, **shown)
    task_id = recorded.task.task_id
    return RedirectResponse(
        address(request, lang)(f"/desk/tasks/{task_id}?done=open"), status_code=303
    )


# --- one item -----------------------------------------------------------------------------


async def _task_page(
    request: Request,
    who: Staff,
    task_id: str,
    lang: Language,
    status_code: int = 200,
    *,
    done: str = "",
    failed: str = "",
    problems: list[dict[str, str]] | None = None,
    sent: dict[str, str] | None = None,
) -> Response:
    try:
        found = await app.read_in_full(who.ledger, task_id, who.principal)
    except NotFound:
        return message(request, who, lang, 404, ("未找到事项", "No such item"), NO_SUCH_TASK)
    pick = 0 if lang == "zh" else 1
    steps = offered(found.task, who)
    headings = {name: heading[pick] for name, (heading, _) in FORMS.items()}
    return render(
        request,
        who,
        "task.html",
        lang,
        status_code,
        task=task_out(found.task, who.runtime.org, utc_now()),
        history=[stored.event for stored in found.history.events],
        staff_files=[
            e.event for e in found.history.events if isinstance(e.event, TaskFileAttached)
        ],
        may_upload=not found.task.closed
        and (who.principal.role in OFFICE_ROLES or who.principal.unit == found.task.unit),
        forms=[(name, headings[name]) for name in steps],
        done=headings.get(done, "新增事项" if lang == "zh" else "Opened") if done else "",
        failed=failed if failed in steps else "",
        problems=problems or [],
        sent=sent or {},
        units=_units(who, lang),
    )


@router.get("/desk/tasks/{task_id}")
async def task_page(
    request: Request,
    task_id: TaskId,
    lang: LangQuery = "zh",
    done: Annotated[str, Query(max_length=20, description="the form just recorded")] = "",
) -> Response:
    return await _task_page(request, staff(request), task_id, lang, done=done)


@router.post("/desk/tasks/{task_id}/{name}")
async def send_form(
    request: Request, task_id: TaskId, name: FormName, lang: LangQuery = "zh"
) -> Response:
    who = staff(request)
    sent = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        check_form(who.session, sent.get("csrf_token", ""))
    except HTTPException:
        return stale_page(request, who, lang)
    if name not in FORMS:
        return message(request, who, lang, 404, ("未找到事项", "No such item"), NO_SUCH_TASK)
    shown: dict[str, Any] = {"failed": name, "sent": sent}
    try:
        body = FORMS[name][1].model_validate(_body(sent, name))
        await perform(who.ledger, task_id, body, who.principal)
    except ValidationError as invalid:
        problems = describe_errors(invalid.errors(), LABELS)
        return await _task_page(request, who, task_id, lang, 422, problems=problems, **shown)
    except NotFound:
        return message(request, who, lang, 404, ("未找到事项", "No such item"), NO_SUCH_TASK)
    except RuleViolation as refused:
        problems = describe_violation(refused, LABELS)
        code = 409 if isinstance(refused, Settled) else 422
        return await _task_page(request, who, task_id, lang, code, problems=problems, **shown)
    except NotPermitted as refused:
        problems = [{"field": "", "message": str(refused), "message_en": str(refused)}]
        return await _task_page(request, who, task_id, lang, 403, problems=problems, **shown)
    except ConcurrencyConflict:
        conflict = {
            "field": "",
            "message": "该事项刚被他人修改，以下是它现在的情况，请核对后重试。",
            "message_en": "Someone else changed this item just now: check it and try again.",
        }
        return await _task_page(request, who, task_id, lang, 409, problems=[conflict], failed=name)
    return RedirectResponse(
        address(request, lang)(f"/desk/tasks/{task_id}?done={name}"), status_code=303
    )
