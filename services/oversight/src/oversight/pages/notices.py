"""The issued notices of criticism (通报批评) on the committee desk, each with the
accountability the committee attached, and for a member a form attaching more: the same
read and the same application call the API makes, the form read with the API's model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from fastapi import APIRouter, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from common.errors import NotFound, RuleViolation
from common.eventstore import AppendOutcomeUnknown, ConcurrencyConflict, LogUnavailable
from common.http_errors import describe_errors, describe_violation
from common.paths import NoticeId
from common.vocabulary import AccountabilityForm, AccountabilityKind
from oversight.application import notices as app
from oversight.notices_api import NoticeAccountabilityIn
from oversight.pages.desk import STORE_FAILURES, Desk, DeskDep
from oversight.schemas import FIELD_LABELS

router = APIRouter()

CHANGED: Final = {
    "message": "该通报的问责刚被他人记录，以下为最新内容，请核对后重新操作。",
    "message_en": "Someone else recorded accountability on this notice just now: this is"
    " how it stands now; check it and record again.",
}


@router.get("/desk/notices")
async def notices_page(desk: DeskDep, done: bool = False, changed: bool = False) -> Response:
    notice = desk.t(
        "已记录问责。如未显示，请稍候刷新页面。",
        "Accountability recorded. Reload if it is not shown yet.",
    )
    return await _show(desk, notice=notice if done else None, problems=[CHANGED] if changed else [])


@router.post("/desk/notices/{notice_id}/accountability")
async def hold_accountable(notice_id: NoticeId, desk: DeskDep) -> Response:
    form = await desk.request.form()
    desk.check_form(str(form.get("csrf_token", "")))
    fields = {k: v for k, v in form.multi_items() if k != "csrf_token" and isinstance(v, str)}
    try:
        body = NoticeAccountabilityIn.model_validate(fields)
        await app.hold_accountable(
            desk.oversight,
            desk.principal,
            notice_id,
            person=body.person,
            kind=body.kind,
            form=body.form,
            reason=body.reason,
        )
    except ValidationError as invalid:
        problems = describe_errors(invalid.errors(), FIELD_LABELS)
        return await _show(desk, notice_id, fields, problems, status.HTTP_422_UNPROCESSABLE_CONTENT)
    except RuleViolation as violation:
        problems = describe_violation(violation, FIELD_LABELS)
        return await _show(desk, notice_id, fields, problems, status.HTTP_422_UNPROCESSABLE_CONTENT)
    except NotFound:
        return desk.missing(
            ("没有这份通报", "No such notice"),
            ("没有编号为此的已印发通报。", "No issued notice has this id."),
            "/desk/notices",
        )
    except ConcurrencyConflict:
        return _redirect(desk.url("/desk/notices", changed="true"))
    except (AppendOutcomeUnknown, LogUnavailable) as failed:
        problems = [STORE_FAILURES[type(failed)]]
        return await _show(desk, notice_id, fields, problems, status.HTTP_503_SERVICE_UNAVAILABLE)
    return _redirect(desk.url("/desk/notices", done="true") + f"#notice-{notice_id}")


async def _show(
    desk: Desk,
    failed: str | None = None,
    given: Mapping[str, str] | None = None,
    problems: Sequence[Mapping[str, str]] = (),
    status_code: int = status.HTTP_200_OK,
    notice: str | None = None,
) -> HTMLResponse:
    """The notices as the API lists them; a refused form keeps what was typed and says why
    next to it (the other problems above the list)."""
    found = await app.issued(desk.oversight, desk.principal, "criticism", 200, 0)
    if failed is not None and failed not in {n["notice_id"] for n in found}:
        failed = None  # no form of it on the page (a praise notice): said above the list
    return desk.render(
        "notices.html",
        status_code,
        notices=found,
        notice=notice,
        problems=list(problems) if failed is None else [],
        failed=failed,
        failed_problems=list(problems) if failed is not None else [],
        given=given or {},
        kinds=list(AccountabilityKind),
        sanction_forms=list(AccountabilityForm),
    )


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
