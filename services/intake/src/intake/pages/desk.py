"""Staff's lead entry: a lead from a phone call, a letter or a visit, typed in through the
channels the person's role may use; and a village's screening ledger imported, answered
row by row."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile

from common.accounts import Account
from common.errors import RuleViolation
from common.events import Role
from common.eventstore import AppendOutcomeUnknown, ConcurrencyConflict, LogUnavailable
from common.sessions import Session
from common.web import Language
from common.web.people import LangQuery, check_form, principal_of, signed_in
from intake.application import CHANNELS_BY_ROLE, ChannelNotAllowed
from intake.commands import EnterLead
from intake.idempotency import StillInProgress
from intake.importer import ImportRefused, import_ledger
from intake.pages.forms import (
    Problems,
    choices,
    key_of,
    lead_body,
    lead_values,
    new_key,
    parsed,
    text_of,
)
from intake.pages.rendering import intake_of, render, renewed
from intake.schemas import ImportResult, StaffLead

router = APIRouter(include_in_schema=False)

ENTRY: Final = "/desk/entry"
IMPORT: Final = "/desk/entry/import"

#: why a person may not enter a lead this way, by the input at fault (ChannelNotAllowed)
_NOT_ALLOWED: Final[dict[str, tuple[str, str]]] = {
    "channel": (
        "您的岗位不能通过这个渠道录入线索",
        "your role does not enter leads through this channel",
    ),
    "village": ("摸排员只能录入本村的线索", "a screener enters leads of their own village only"),
}


def _desk_page(
    request: Request,
    lang: Language,
    session: Session,
    account: Account,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page of the entry desk for the signed-in person, their session renewed; a role
    that enters no leads is told so."""
    intake = intake_of(request)
    channels = CHANNELS_BY_ROLE.get(account.role)
    if channels is None:
        template, status_code = "message.html", status.HTTP_403_FORBIDDEN
        context = {
            "heading": "线索录入" if lang == "zh" else "Enter a lead",
            "text": "您的岗位不录入线索。" if lang == "zh" else "Your role does not enter leads.",
            "problem": True,
        }
    limit = intake.settings.import_max_bytes
    answer = render(
        request,
        template,
        lang,
        status_code,
        person=account,
        csrf_token=session.csrf,
        import_max_bytes=limit,
        import_max_mib=f"{limit / 1024 / 1024:g}",
        **{"import_problems": Problems(lang)} | context,
    )
    return renewed(request, answer, session)


def _entry_page(
    request: Request,
    lang: Language,
    session: Session,
    account: Account,
    *,
    values: dict[str, Any] | None = None,
    key: str | None = None,
    problems: Problems | None = None,
    entered: str | None = None,
    status_code: int = 200,
) -> Response:
    channels = CHANNELS_BY_ROLE.get(account.role, frozenset())
    # A screener files leads of their own village only: the form offers no other.
    own = [account.unit or ""] if account.role is Role.SCREENER else None
    blank: dict[str, Any] = {
        "channel": next(iter(channels)).value if len(channels) == 1 else "",
        "village": (own or [""])[0],
        **dict.fromkeys(("category", "summary", "details", "name", "phone"), ""),
        "flags": [],
    }
    return _desk_page(
        request,
        lang,
        session,
        account,
        "desk_entry.html",
        status_code,
        choices=choices(intake_of(request).org, lang, channels=channels, villages=own),
        values=values or blank,
        key=key or new_key(),
        problems=problems or Problems(lang),
        entered=entered,
    )


@router.get(ENTRY)
async def entry_form(
    request: Request,
    lang: LangQuery = "zh",
    entered: Annotated[
        str | None,
        Query(pattern=r"^[0-9a-f]{32}$", description="the lead just entered, to confirm it"),
    ] = None,
) -> Response:
    session, account = signed_in(request)
    return _entry_page(request, lang, session, account, entered=entered)


@router.post(ENTRY)
async def enter_lead(request: Request, lang: LangQuery = "zh") -> Response:
    session, account = signed_in(request)
    form = await request.form()
    check_form(session, text_of(form, "csrf_token"))
    values = lead_values(form) | {"channel": text_of(form, "channel")}
    key = key_of(form)
    problems = Problems(lang)
    refused = status.HTTP_422_UNPROCESSABLE_CONTENT
    lead = parsed(StaffLead, lead_body(values, channel=values["channel"]), problems)
    if lead is not None:
        command = EnterLead(lead.content(), lead.channel, key)
        try:
            accepted = await intake_of(request).enter_staff(command, principal_of(account))
        except ChannelNotAllowed as exc:
            zh, en = _NOT_ALLOWED.get(exc.field, (str(exc), str(exc)))
            problems.add(zh if lang == "zh" else en, exc.field)
            refused = status.HTTP_403_FORBIDDEN
        except RuleViolation as exc:
            problems.add_violation(exc)
        except ConcurrencyConflict:
            problems.add(
                "这条线索刚刚已被录入，请重新载入页面查看。"
                if lang == "zh"
                else "This lead was entered just now: reload the page to see it."
            )
            refused = status.HTTP_409_CONFLICT
        except (StillInProgress, LogUnavailable, AppendOutcomeUnknown):
            problems.add(
                "暂时无法保存，请稍后再提交一次（不会重复登记）。"
                if lang == "zh"
                else "It cannot be saved just now: send it again shortly (it will not be"
                " filed twice)."
            )
            refused = status.HTTP_503_SERVICE_UNAVAILABLE
        else:
            target = f"{ENTRY}?entered={accepted.lead_id}" + ("" if lang == "zh" else "&lang=en")
            return renewed(request, RedirectResponse(target, status.HTTP_303_SEE_OTHER), session)
    return _entry_page(
        request,
        lang,
        session,
        account,
        values=values,
        key=key,
        problems=problems,
        status_code=refused,
    )


@router.post(IMPORT)
async def import_screening_ledger(request: Request, lang: LangQuery = "zh") -> Response:
    """Answered with its per-row results directly (no redirect): they are not kept, and
    sending the same file again only finds its rows already imported."""
    session, account = signed_in(request)
    form = await request.form()
    check_form(session, text_of(form, "csrf_token"))
    upload = form.get("file")
    problems = Problems(lang)

    def answer(status_code: int, result: ImportResult | None = None) -> Response:
        return _desk_page(
            request,
            lang,
            session,
            account,
            "desk_import.html",
            status_code,
            imported=result,
            import_problems=problems,
        )

    if not isinstance(upload, UploadFile) or not upload.filename:
        problems.add("请选择要导入的文件。" if lang == "zh" else "Choose a file to import.", "file")
        return answer(status.HTTP_422_UNPROCESSABLE_CONTENT)
    try:
        result = await import_ledger(
            intake_of(request), principal_of(account), upload.filename, upload
        )
    except ImportRefused as exc:
        problems.add(exc.message_zh if lang == "zh" else exc.message_en, "file")
        too_large = status.HTTP_413_CONTENT_TOO_LARGE
        return answer(too_large if exc.too_large else status.HTTP_422_UNPROCESSABLE_CONTENT)
    return answer(status.HTTP_200_OK, result)
