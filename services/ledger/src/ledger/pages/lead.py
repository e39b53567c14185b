"""One lead on the desk: what was reported, the exchange with the reporter, reports of the
same matter, supervision, its history, and a form for each command the person may give on
it now. The page reads the lead as the API does (the read is recorded); each form is sent
with the session's CSRF token and becomes the API's command, run by the same application.
A refusal is shown on the page, at the form; success goes back to the lead (303)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from common.errors import NotFound, NotPermitted, RuleViolation
from common.events import utc_now
from common.eventstore import ConcurrencyConflict
from common.http_errors import describe_errors, describe_violation
from common.organisation import UnitKind
from common.paths import LeadId
from common.subjects import Service
from common.vocabulary import Conclusion, label
from common.web import Language
from common.web.people import LangQuery, check_form
from ledger.api import LeadKey, lead_detail
from ledger.application.files import LEAD_UPLOADERS
from ledger.commands import Assign
from ledger.pages.forms import BY_NAME, FEEDBACK_METHODS, FORMS, fields
from ledger.pages.shared import (
    Show,
    Staff,
    address,
    may_not_read,
    message,
    no_such_lead,
    render,
    staff,
)
from ledger.pages.timeline import SUPERVISION, steps
from ledger.projection.queries import is_overdue
from ledger.schemas import FIELD_LABELS

router = APIRouter(include_in_schema=False)

FormName = Annotated[str, Path(pattern=r"^[a-z-]{2,20}$")]
CONFLICT: Final = {
    "field": "",
    "message": "该线索刚被他人修改，以下是它现在的情况，请核对后重试。",
    "message_en": "Someone else changed this lead just now. It is shown as it stands now:"
    " check it and try again.",
}


async def _lead_page(
    request: Request,
    who: Staff,
    key: str,
    lang: Language,
    status_code: int = 200,
    *,
    done: str = "",
    failed: str = "",
    problems: list[dict[str, str]] | None = None,
    sent: dict[str, str] | None = None,
) -> Response:
    try:
        read = await who.ledger.read_in_full(key, who.principal, "")
    except NotFound:
        return no_such_lead(request, who, lang)
    detail = lead_detail(read)
    allowed = who.ledger.available(read, who.principal, utc_now())
    offered = [form for form in FORMS if form.command in allowed]
    people = (
        await who.ledger.people_of(who.principal.unit)
        if Assign in allowed and who.principal.unit
        else []
    )
    org = who.runtime.org
    pick = 0 if lang == "zh" else 1
    return render(
        request,
        who,
        "lead.html",
        lang,
        status_code,
        lead=detail,
        overdue=is_overdue(read.row, utc_now()),
        steps=steps(detail.history, Show(who.runtime, lang)),
        supervision=[e for e in detail.history if e.event_type in SUPERVISION],
        forms=[(form.name, form.heading[pick]) for form in offered],
        done=BY_NAME[done].heading[pick] if done in BY_NAME else "",
        failed=failed if failed in {form.name for form in offered} else "",
        problems=problems or [],
        sent=sent or {},
        people=people,
        units=[
            (u.code, u.label(lang))
            for u in org.units
            if u.kind is not UnitKind.VILLAGE and u.code != detail.unit
        ],
        results=[(c.value, label(c, lang)) for c in Conclusion],
        methods=[(code, names[pick]) for code, names in FEEDBACK_METHODS.items()],
        staff_files=[e for e in detail.history if e.event_type == "LeadFileAttached"],
        may_upload=who.principal.role in LEAD_UPLOADERS,
        intake_service=Service.INTAKE,
    )


@router.get("/desk/leads/{key}")
async def lead_page(
    request: Request,
    key: LeadKey,
    lang: LangQuery = "zh",
    done: Annotated[str, Query(max_length=20, description="the form just recorded")] = "",
) -> Response:
    who = staff(request)
    if not who.may_read:
        return may_not_read(request, who, lang)
    return await _lead_page(request, who, key, lang, done=done)


@router.get("/desk/leads/{lead_id}/{name}")
async def back_to_the_lead(
    request: Request, lead_id: LeadId, name: FormName, lang: LangQuery = "zh"
) -> Response:
    """A form's address asked for as a page (the language switched on a refused form's
    answer): the lead."""
    return RedirectResponse(address(request, lang)(f"/desk/leads/{lead_id}"), status_code=303)


@router.post("/desk/leads/{lead_id}/{name}")
async def send_form(
    request: Request, lead_id: LeadId, name: FormName, lang: LangQuery = "zh"
) -> Response:
    who = staff(request)
    sent = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        check_form(who.session, sent.get("csrf_token", ""))
    except HTTPException:
        return stale_page(request, who, lang)
    if not who.may_read:
        return may_not_read(request, who, lang)
    form = BY_NAME.get(name)
    if form is None:
        return no_such_lead(request, who, lang)
    people = (
        await who.ledger.people_of(who.principal.unit)
        if form.command is Assign and who.principal.unit
        else []
    )
    shown: dict[str, Any] = {"failed": name, "sent": sent}
    try:
        body = form.model.model_validate(fields(form, sent, people))
    except ValidationError as invalid:
        problems = describe_errors(invalid.errors(), FIELD_LABELS)
        return await _lead_page(request, who, lead_id, lang, 422, problems=problems, **shown)
    try:
        await who.ledger.execute(form.build(lead_id, body), who.principal)
    except NotFound:
        return no_such_lead(request, who, lang)
    except RuleViolation as refused:
        problems = describe_violation(refused, FIELD_LABELS)
        return await _lead_page(request, who, lead_id, lang, 422, problems=problems, **shown)
    except NotPermitted as refused:
        problems = [{"field": "", "message": str(refused), "message_en": str(refused)}]
        return await _lead_page(request, who, lead_id, lang, 403, problems=problems, **shown)
    except ConcurrencyConflict:
        # The lead as the other change left it.
        await who.ledger.caught_up(lead_id)
        return await _lead_page(request, who, lead_id, lang, 409, problems=[CONFLICT], failed=name)
    # The lead page that follows shows the lead as the command left it.
    await who.ledger.caught_up(lead_id)
    return RedirectResponse(
        address(request, lang)(f"/desk/leads/{lead_id}?done={name}"), status_code=303
    )


def stale_page(request: Request, who: Staff, lang: Language) -> HTMLResponse:
    return message(
        request,
        who,
        lang,
        403,
        ("表单已失效", "The form is stale"),
        (
            "这个表单不是本次登录时打开的页面提交的，未作任何更改。请重新打开页面再提交。",
            "This form was not sent from a page opened in this session; nothing was changed."
            " Open the page again and send it from there.",
        ),
    )
