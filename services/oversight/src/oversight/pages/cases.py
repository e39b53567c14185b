"""The committee's cases on the desk: the list (protective-umbrella cases first), one case
in full with its responsibility trace, and the decisions a member takes on it, each a form
that builds the same command the API builds and hands it to the application."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal, get_args

from fastapi import APIRouter, Query, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from common.errors import NotFound, RuleViolation
from common.eventstore import AppendOutcomeUnknown, ConcurrencyConflict, LogUnavailable
from common.http_errors import describe_errors, describe_violation
from common.organisation import UnitKind
from common.paths import CaseId
from common.vocabulary import AccountabilityForm, AccountabilityKind, Conclusion
from oversight.application.towns import units_named
from oversight.domain.cases import BY_HAND, BY_HAND_LABEL, SUPERVISION_RULES
from oversight.pages.desk import (
    CASE_STATUS,
    STORE_FAILURES,
    SUPERVISION_KINDS,
    Desk,
    DeskDep,
)
from oversight.schemas import (
    FIELD_LABELS,
    AccountabilityIn,
    DecisionIn,
    EscalateIn,
    LinkIn,
    ListSupervisionIn,
    OutcomeIn,
    SuperviseIn,
    case_detail,
)

router = APIRouter()

Decision = Literal["supervise", "list-supervision", "escalate", "link", "accountability", "outcome"]
#: Each decision's form, read as the API reads its body (so the same limits and labels).
BODIES: Final[dict[str, type[DecisionIn]]] = {
    "supervise": SuperviseIn,
    "list-supervision": ListSupervisionIn,
    "escalate": EscalateIn,
    "link": LinkIn,
    "accountability": AccountabilityIn,
    "outcome": OutcomeIn,
}
DONE: Final[dict[str, tuple[str, str]]] = {
    "supervise": (
        "已督办，并通知现承办单位。",
        "Supervision opened; the unit holding the lead is told.",
    ),
    "list-supervision": ("已挂牌督办。", "Listed supervision recorded."),
    "escalate": ("已提级办理。", "Escalated to the county."),
    "link": ("已关联涉黑涉恶线索，同步侦办。", "Linked to the gang lead it shields."),
    "accountability": ("已记录批评问责。", "Criticism or accountability recorded."),
    "outcome": ("已反馈纪律处理结果。", "Discipline outcome recorded."),
}
assert set(get_args(Decision)) == set(BODIES) == set(DONE)  # noqa: S101 - one of each a decision

Status = Literal["open", "supervised", "listed", "escalated", "closed"]
assert set(get_args(Status)) == set(CASE_STATUS)  # noqa: S101 - the labels cover every status


@router.get("/desk")
async def desk_page(
    desk: DeskDep,
    status: Annotated[Status | Literal[""], Query(description="案件状态 / The cases' status")] = "",
) -> Response:
    cases = await desk.oversight.cases(desk.principal, status or None)
    return desk.render("desk.html", cases=cases, status=status, statuses=CASE_STATUS)


@router.get("/desk/cases/{case_id}")
async def case_page(
    case_id: CaseId,
    desk: DeskDep,
    purpose: Annotated[
        str, Query(max_length=200, description="查阅事由 / Why you read the case")
    ] = "",
    done: Decision | None = None,
    changed: bool = False,
) -> Response:
    notice = None
    if done is not None:
        zh, en = DONE[done]
        notice = desk.t(zh + "如未显示，请稍候刷新页面。", en + " Reload if it is not shown yet.")
    problems = []
    if changed:
        problems.append(
            {
                "message": "该案件刚被他人修改，以下为最新内容，请核对后重新操作。",
                "message_en": "Someone else changed this case just now: this is how it stands"
                " now; check it and decide again.",
            }
        )
    return await show_case(desk, case_id, purpose=purpose, notice=notice, problems=problems)


async def show_case(
    desk: Desk,
    case_id: str,
    *,
    status_code: int = status.HTTP_200_OK,
    purpose: str = "",
    notice: str | None = None,
    problems: Sequence[Mapping[str, str]] = (),
    failed: str | None = None,
    given: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The case read as the API reads it (the read recorded), with its responsibility trace
    (recorded as the API records it) and, for a member, the decisions as forms."""
    try:
        found = await desk.oversight.case(case_id, desk.principal, purpose)
    except NotFound:
        return desk.missing(
            ("没有这个案件", "No such case"),
            ("纪委没有编号为此的案件。", "The committee has no case by this id."),
            "/desk",
        )
    case = case_detail(found)
    try:
        trace = await desk.oversight.responsibility_trace(case.lead_id, desk.principal)
    except NotFound:
        trace = []  # the lead is not filed yet: nobody has held it
    # A town's member names their town's units and the county's, never another town's.
    units = units_named(desk.oversight.runtime.org, desk.principal)
    return desk.render(
        "case.html",
        status_code,
        case=case,
        trace=trace,
        statuses=CASE_STATUS,
        supervision_kinds=SUPERVISION_KINDS,
        rules={**SUPERVISION_RULES, BY_HAND: BY_HAND_LABEL},
        notice=notice,
        problems=list(problems) if failed is None else [],
        failed=failed,
        failed_problems=list(problems) if failed is not None else [],
        given=given or {},
        handling_units=[u for u in units if u.kind is not UnitKind.VILLAGE],
        units=units,
        kinds=list(AccountabilityKind),
        sanction_forms=list(AccountabilityForm),
        results=list(Conclusion),
    )


@router.post("/desk/cases/{case_id}/{decision}")
async def decide(case_id: CaseId, decision: Decision, desk: DeskDep) -> Response:
    form = await desk.request.form()
    desk.check_form(str(form.get("csrf_token", "")))
    fields = {k: v for k, v in form.multi_items() if k != "csrf_token" and isinstance(v, str)}
    try:
        body = BODIES[decision].model_validate(fields)
    except ValidationError as invalid:
        problems = describe_errors(invalid.errors(), FIELD_LABELS)
        return await _refused(
            desk, case_id, decision, fields, problems, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    try:
        await desk.oversight.execute(body.command(case_id), desk.principal)
    except RuleViolation as violation:
        problems = describe_violation(violation, FIELD_LABELS)
        return await _refused(
            desk, case_id, decision, fields, problems, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    except NotFound:
        return await show_case(desk, case_id)
    except ConcurrencyConflict:
        return _redirect(desk.url(f"/desk/cases/{case_id}", changed="true"))
    except (AppendOutcomeUnknown, LogUnavailable) as failed:
        return await _refused(
            desk,
            case_id,
            decision,
            fields,
            [STORE_FAILURES[type(failed)]],
            status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return _redirect(desk.url(f"/desk/cases/{case_id}", done=decision))


async def _refused(
    desk: Desk,
    case_id: str,
    decision: str,
    fields: Mapping[str, str],
    problems: Sequence[Mapping[str, Any]],
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    """The case again, the refused form keeping what was typed and saying why. Answered as
    a page to read (200), as server-rendered forms are: a browser reports a page answered
    with a 4xx as a failed load, and nothing failed to load."""
    return await show_case(
        desk,
        case_id,
        status_code=status_code,
        problems=problems,
        failed=decision,
        given=fields,
    )


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
