"""A person's own declarations on a page (回避申报): the ties, other names and recusals they
stand by and those they withdrew, and a form for each. Beside the API (common.declarations),
whose operations and input models it uses: nothing here is a service's own, so any service
may mount it (the ledger does, as the main desk). What a person declares speaks for them only
and never gives them anything."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Final

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from common.accounts import Account, account_declarations
from common.auth import Principal
from common.database import as_utc
from common.declarations import (
    AliasIn,
    RecusalIn,
    RelationshipIn,
    WithdrawalIn,
    declare_alias,
    declare_relationship,
    recuse_from_lead,
    standing,
    withdraw_declaration,
)
from common.errors import RuleViolation
from common.eventstore import Appended, AppendOutcomeUnknown, LogUnavailable
from common.http_errors import describe_errors, describe_violation
from common.sessions import Session
from common.subjects import Stream
from common.times import CHINA
from common.web import Language
from common.web.people import LangQuery, check_form, principal_of, signed_in

if TYPE_CHECKING:
    from common.service import ServiceRuntime

PAGE: Final = "/desk/me/declarations"
#: Withdrawn declarations shown, the latest first: what was once declared stays answerable.
MOST_WITHDRAWN: Final = 200
#: How long a recorded declaration may take to reach this service's accounts projection
#: before the page is shown anyway (it says so if it is not listed yet).
SHOWN_WITHIN: Final = 2.0

KINDS: Final[dict[str, tuple[str, str]]] = {
    "village": ("村", "village"),
    "person": ("人员", "person"),
    "business": ("企业", "business"),
    "alias": ("曾用名、别名", "other name"),
    "recusal": ("回避线索", "recusal from a lead"),
}
LABELS: Final[dict[str, tuple[str, str]]] = {
    "kind": ("类别", "kind"),
    "name": ("名称", "name"),
    "note": ("关系说明", "what the tie is"),
    "lead_id": ("线索编号", "lead id"),
    "reason": ("回避理由", "reason"),
}
DONE: Final[dict[str, tuple[str, str]]] = {
    "relationship": ("已申报利害关系。", "Tie declared."),
    "alias": ("已申报别名。", "Other name declared."),
    "recusal": ("已申请回避该线索。", "Recusal recorded."),
    "withdrawal": ("已撤回该项申报。", "Declaration withdrawn."),
}
STORE_FAILED: Final = {
    "field": "",
    "message": "暂时无法保存，请稍后重试。",
    "message_en": "It cannot be recorded just now: try again shortly.",
}
# Each form: the API's input model it is read with.
FORMS: Final[dict[str, type[BaseModel]]] = {
    "relationship": RelationshipIn,
    "alias": AliasIn,
    "recusal": RecusalIn,
    "withdrawal": WithdrawalIn,
}


@dataclass(frozen=True)
class Withdrawn:
    kind: str
    name: str
    note: str
    declared_at: datetime
    withdrawn_at: datetime


def withdrawn_of(runtime: ServiceRuntime, user: str) -> list[Withdrawn]:
    """What the person declared and withdrew since, the latest withdrawn first."""
    with runtime.accounts.engine.connect() as conn:
        rows = conn.execute(
            select(account_declarations)
            .where(
                (account_declarations.c.user == user)
                & account_declarations.c.withdrawn_at.is_not(None)
            )
            .order_by(account_declarations.c.withdrawn_at.desc())
            .limit(MOST_WITHDRAWN)
        ).all()
    return [
        Withdrawn(r.kind, r.name, r.note, as_utc(r.declared_at), as_utc(r.withdrawn_at))
        for r in rows
    ]


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return as_utc(moment).astimezone(CHINA).strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


async def _shown(runtime: ServiceRuntime, appended: Appended) -> None:
    """Waits (briefly) until this service's accounts projection has the declaration, so the
    page shown next lists it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHOWN_WITHIN
    while await asyncio.to_thread(runtime.accounts.applied, Stream.SESSIONS) < appended.sequence:
        if loop.time() > deadline:
            return
        await asyncio.sleep(0.02)


def declaration_pages() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def page(
        request: Request,
        lang: Language,
        session: Session,
        account: Account,
        status_code: int = 200,
        *,
        done: str = "",
        failed: str = "",
        problems: list[dict[str, str]] | None = None,
        sent: dict[str, str] | None = None,
    ) -> HTMLResponse:
        runtime: ServiceRuntime = request.app.state.runtime
        pick = 0 if lang == "zh" else 1
        mine = await standing(runtime, account.user)
        withdrawn = await asyncio.to_thread(withdrawn_of, runtime, account.user)
        return runtime.pages.render(
            request,
            "declarations.html",
            lang,
            status_code,
            person=account,
            csrf_token=session.csrf,
            ties=[d for d in mine if d.kind not in ("alias", "recusal")],
            aliases=[d for d in mine if d.kind == "alias"],
            recusals=[d for d in mine if d.kind == "recusal"],
            withdrawn=withdrawn,
            kinds={code: names[pick] for code, names in KINDS.items()},
            villages=[(v.code, v.label(lang)) for v in runtime.org.villages],
            when=_when,
            done=DONE[done][pick] if done in DONE else "",
            failed=failed,
            problems=problems or [],
            sent=sent or {},
        )

    @router.get(PAGE)
    async def declarations_page(
        request: Request, lang: LangQuery = "zh", done: str = ""
    ) -> Response:
        session, account = signed_in(request)
        return await page(request, lang, session, account, done=done[:20])

    @router.post(PAGE + "/{form}")
    async def declare(
        request: Request,
        form: Annotated[str, Path(pattern=r"^(relationship|alias|recusal|withdrawal)$")],
        lang: LangQuery = "zh",
    ) -> Response:
        session, account = signed_in(request)
        runtime: ServiceRuntime = request.app.state.runtime
        posted = await request.form()
        sent = {k: v for k, v in posted.items() if isinstance(v, str) and k != "csrf_token"}
        token = posted.get("csrf_token")
        check_form(session, token if isinstance(token, str) else "")
        principal = principal_of(account)

        async def refused(code: int, problems: list[dict[str, str]]) -> HTMLResponse:
            return await page(
                request, lang, session, account, code, failed=form, problems=problems, sent=sent
            )

        try:
            body = FORMS[form].model_validate(sent)
            appended = await _perform(runtime, principal, body)
        except ValidationError as invalid:
            return await refused(422, describe_errors(invalid.errors(), LABELS))
        except RuleViolation as violation:
            return await refused(422, describe_violation(violation, LABELS))
        except (LogUnavailable, AppendOutcomeUnknown):
            return await refused(status.HTTP_503_SERVICE_UNAVAILABLE, [STORE_FAILED])
        await _shown(runtime, appended)
        root = str(request.scope.get("root_path", "")).rstrip("/")
        target = f"{root}{PAGE}?done={form}" + ("" if lang == "zh" else "&lang=en")
        return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)

    return router


async def _perform(runtime: ServiceRuntime, principal: Principal, body: BaseModel) -> Appended:
    if isinstance(body, RelationshipIn):
        return await declare_relationship(runtime, principal, body)
    if isinstance(body, AliasIn):
        return await declare_alias(runtime, principal, body)
    if isinstance(body, RecusalIn):
        return await recuse_from_lead(runtime, principal, body)
    if isinstance(body, WithdrawalIn):
        return await withdraw_declaration(runtime, principal, body)
    raise HTTPException(status.HTTP_404_NOT_FOUND)
