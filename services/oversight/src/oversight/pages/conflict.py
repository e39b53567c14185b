"""The committee's conflict-of-interest guards and override decisions on the desk: set and
lift a guard, decide on the office's requests for an override (with a note), and the decided
ones. Each form is read with the API's own model and handed to the application the API
calls (oversight.application.conflict)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from fastapi import APIRouter, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from common.errors import NotFound, RuleViolation
from common.eventstore import AppendOutcomeUnknown, LogUnavailable
from common.http_errors import describe_errors, describe_violation
from common.vocabulary import GUARD_REASONS
from oversight.application import conflict as app
from oversight.conflict_api import DecisionIn, GuardIn, LiftIn
from oversight.pages.desk import STORE_FAILURES, Desk, DeskDep
from oversight.schemas import FIELD_LABELS

router = APIRouter()

PAGE: Final = "/desk/conflict"
LABELS: Final = {
    **FIELD_LABELS,
    "account": ("人员账户", "account"),
    "reason": ("限制理由", "reason"),
    "decision": ("决定", "decision"),
    "note": ("意见", "note"),
}
#: Why the ledger refused the hand-over (ledger.domain.conflict's codes), as people say it.
GROUNDS: Final[dict[str, tuple[str, str]]] = {
    "named": ("线索中出现该人员的姓名或别名", "the lead names them (name or alias)"),
    "tie": ("该人员申报过利害关系", "they declared a tie to what it concerns"),
    "recused": ("该人员已申请回避", "they recused themselves"),
    "guard": ("纪委限制指派", "the committee keeps them off it"),
}
DONE: Final[dict[str, tuple[str, str]]] = {
    "guard": (
        "已限制该人员办理该线索，扫黑办指派时将被拒绝。",
        "Guard set: the ledger refuses it.",
    ),
    "lifted": ("已解除限制。", "Guard lifted."),
    "approved": ("已同意例外指派。", "Override approved."),
    "refused": ("已不同意例外指派。", "Override refused."),
}
NO_SUCH_LEAD: Final = {
    "field": "lead_id",
    "message": "线索编号：没有该线索。",
    "message_en": "lead id: there is no such lead.",
}
# Each form: the API's model it is read with.
FORMS: Final[dict[str, type[BaseModel]]] = {
    "guard": GuardIn,
    "lift": LiftIn,
    "override": DecisionIn,
}


@router.get(PAGE)
async def conflict_page(desk: DeskDep, done: str = "") -> Response:
    notice = desk.t(*DONE[done]) if done in DONE else None
    return await _show(desk, notice=notice)


async def _post(desk: Desk, name: str) -> Response:
    form = await desk.request.form()
    desk.check_form(str(form.get("csrf_token", "")))
    fields = {k: v for k, v in form.multi_items() if k != "csrf_token" and isinstance(v, str)}
    ox = desk.oversight
    try:
        body = FORMS[name].model_validate(fields)
        if isinstance(body, GuardIn):
            await app.set_guard(ox, desk.principal, body.lead_id, body.account, body.reason)
            done = "guard"
        elif isinstance(body, DecisionIn):
            approve = body.decision == "approve"
            await app.decide(ox, desk.principal, body.lead_id, body.account, approve, body.note)
            done = "approved" if approve else "refused"
        else:
            assert isinstance(body, LiftIn)  # noqa: S101 - FORMS says so
            await app.lift_guard(ox, desk.principal, body.lead_id, body.account)
            done = "lifted"
    except ValidationError as invalid:
        problems = describe_errors(invalid.errors(), LABELS)
        return await _show(desk, name, fields, problems, status.HTTP_422_UNPROCESSABLE_CONTENT)
    except RuleViolation as violation:
        problems = describe_violation(violation, LABELS)
        return await _show(desk, name, fields, problems, status.HTTP_422_UNPROCESSABLE_CONTENT)
    except NotFound:
        # Another town's lead reads exactly as one there is not.
        return await _show(desk, name, fields, [NO_SUCH_LEAD], status.HTTP_404_NOT_FOUND)
    except (AppendOutcomeUnknown, LogUnavailable) as failed:
        problems = [STORE_FAILURES[type(failed)]]
        return await _show(desk, name, fields, problems, status.HTTP_503_SERVICE_UNAVAILABLE)
    return RedirectResponse(desk.url(PAGE, done=done), status_code=status.HTTP_303_SEE_OTHER)


@router.post(PAGE + "/guards")
async def set_guard(desk: DeskDep) -> Response:
    return await _post(desk, "guard")


@router.post(PAGE + "/guards/lifted")
async def lift_guard(desk: DeskDep) -> Response:
    return await _post(desk, "lift")


@router.post(PAGE + "/overrides")
async def decide(desk: DeskDep) -> Response:
    return await _post(desk, "override")


async def _show(
    desk: Desk,
    failed: str | None = None,
    given: Mapping[str, str] | None = None,
    problems: Sequence[Mapping[str, str]] = (),
    status_code: int = status.HTTP_200_OK,
    notice: str | None = None,
) -> HTMLResponse:
    """The guards standing and the overrides, with a member's forms; a refused form keeps
    what was typed and says why above it."""
    overrides = await app.overrides(desk.oversight, desk.principal)
    return desk.render(
        "conflict.html",
        status_code,
        guards=await app.guards(desk.oversight, desk.principal),
        pending=[o for o in overrides if o.decision is None],
        decided=[o for o in overrides if o.decision is not None],
        guard_reasons=GUARD_REASONS,
        grounds=GROUNDS,
        notice=notice,
        failed=failed,
        problems=list(problems),
        given=given or {},
    )
