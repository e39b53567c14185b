"""Identity access on the desk (two-person rule): a handler asks to read a named reporter's
identity, a custodian other than the asker approves or refuses, and the asker reads it once
on a page that is not kept. Every step is the application's (intake.application), as the
API's; the page only finds the requests to show and says what the rules said."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from common.accounts import Account
from common.auth import Principal
from common.errors import Gone, NotFound, NotPermitted, RuleViolation, Settled
from common.events import Event, Role, utc_now
from common.events.catalogue import IdentityDisclosed
from common.events.custody import (
    LONGEST_REASON,
    LONGEST_VALIDITY_HOURS,
    REQUEST_ID,
    IdentityAccessApproved,
    IdentityAccessRefused,
    IdentityAccessRequested,
)
from common.eventstore import AppendOutcomeUnknown, ConcurrencyConflict, LogUnavailable
from common.sessions import Session
from common.vocabulary import ROLES
from common.web import Language
from common.web.people import LangQuery, check_form, principal_of, signed_in
from intake.application import Intake
from intake.commands import AskForIdentity, DecideOnIdentity, ReadIdentity
from intake.domain.custody import (
    MAY_ASK,
    REASON_LABELS,
    AccessRequest,
    MayNotAsk,
    NotReadable,
    OwnRequest,
)
from intake.identity_requests_api import ApprovalIn, IdentityRequestIn, RefusalIn
from intake.pages.forms import Problems, text_of
from intake.pages.rendering import intake_of, render, renewed
from intake.projection.tables import reports

router = APIRouter(include_in_schema=False)

PAGE: Final = "/desk/identity-requests"
#: The leads with settled requests the page looks at besides those still waiting, newest
#: first: requests are rare (each one a custodian's decision), so this is every one in
#: practice, and a bound on what each visit reads all the same.
MOST_LEADS: Final = 200
#: The leads with requests still to act on that one visit reads, newest first: each is a
#: custodian's to decide (or an asker's to read) within a day or so, so a bound this high is
#: reached only by requests left undecided for months; the newest are shown.
MOST_WAITING: Final = 1000
LEAD_ID: Final = r"^[A-Za-z0-9_-]{1,64}$"
LeadPath = Annotated[str, Path(pattern=LEAD_ID)]
RequestPath = Annotated[str, Path(pattern=REQUEST_ID)]

DONE: Final[dict[str, tuple[str, str]]] = {
    "asked": ("申请已提交，待另一名保管员审批。", "Asked: another custodian decides."),
    "approved": ("已批准，申请人可在有效期内查阅一次。", "Approved: the asker may read it once."),
    "refused": ("已拒绝，申请人可看到拒绝理由。", "Refused: the asker sees the note."),
}
NO_SUCH: Final = (
    "没有这条线索或这项申请，或您无权查看。",
    "There is no such lead or request, or it is not one you may see.",
)
ONLY_CUSTODIANS: Final = (
    "只有举报人信息保管员审批查阅申请。",
    "Only a custodian of reporters' identities decides on requests.",
)
# The rules' refusals in words, by kind; the English is the rule's own sentence.
REFUSED_ZH: Final[dict[type[Exception], str]] = {
    OwnRequest: "申请须由申请人以外的另一名保管员审批。",
    MayNotAsk: "只有办理线索的人员可以申请查阅举报人身份。",
    NotReadable: "该申请不能查阅：未获批准、已查阅过或已过期。如仍需要，请重新申请。",
}
GONE: Final = (
    "举报人身份信息已依规销毁，任何人都无法再查阅。",
    "The reporter's identity was destroyed for good: nobody can read it any more.",
)
STORE_FAILED: Final = (
    "暂时无法保存，未作任何记录，请稍后重试。",
    "It cannot be recorded just now (nothing was): try again shortly.",
)
CHANGED: Final = (
    "这项申请刚被他人处理，以下是它现在的情况。",
    "Someone acted on this request just now: this is how it stands now.",
)


@dataclass(frozen=True)
class Shown:
    """One request as the page shows it."""

    lead_id: str
    ledger_number: str | None
    request: AccessRequest
    mine: bool
    note: str  # the custodian's reason for refusing
    read_at: datetime | None

    @property
    def readable(self) -> bool:
        """Approved, not yet read and not lapsed: the asker gets the button (the rules
        decide again when it is pressed)."""
        r = self.request
        return (
            self.mine
            and r.status == "approved"
            and r.reads < r.uses
            and r.valid_until is not None
            and utc_now() < r.valid_until
        )

    @property
    def lapsed(self) -> bool:
        r = self.request
        return (
            r.status == "approved"
            and r.reads < r.uses
            and r.valid_until is not None
            and utc_now() >= r.valid_until
        )


async def _ledger_numbers(intake: Intake, lead_ids: list[str]) -> dict[str, str]:
    if not lead_ids:
        return {}
    async with intake.engine.connect() as conn:
        rows = await conn.execute(
            select(reports.c.lead_id, reports.c.ledger_number).where(
                reports.c.lead_id.in_(lead_ids) & reports.c.ledger_number.is_not(None)
            )
        )
        return {r.lead_id: r.ledger_number for r in rows}


async def _lead_of(intake: Intake, given: str) -> str | None:
    """The lead a person named by its ledger number (if intake has heard of it) or its id;
    None when it can be neither."""
    async with intake.engine.connect() as conn:
        found = (
            await conn.execute(select(reports.c.lead_id).where(reports.c.ledger_number == given))
        ).scalar()
    if found is not None:
        return str(found)
    return given if re.fullmatch(LEAD_ID, given) else None


async def _subject(intake: Intake, kind: type[Event]) -> list[Event]:
    prefix = intake.store.subject_prefix
    history = await intake.store.read_subject(f"{prefix}.lead.*.{kind.__name__}")
    return [e.event for e in history.events]


async def _requests(intake: Intake, principal: Principal) -> list[Shown]:
    """The requests the person may see, newest first: every lead with a request is found on
    the log by subject, and each lead's requests are what the application lists for the
    person (a custodian every one, anyone else their own). A lead with a request still
    waiting for a custodian, or approved and still to be read, is shown first (up to
    ``MOST_WAITING`` leads); the bound ``MOST_LEADS`` cuts the settled ones, oldest first."""
    custodian = principal.role is Role.CUSTODIAN
    asked = [
        e
        for e in await _subject(intake, IdentityAccessRequested)
        if isinstance(e, IdentityAccessRequested)
        and (custodian or e.actor.user == principal.user)  # else not listed for them
    ]
    if not asked:
        return []
    notes: dict[str, str] = {
        e.request_id: e.reason
        for e in await _subject(intake, IdentityAccessRefused)
        if isinstance(e, IdentityAccessRefused)
    }
    approved_until = {
        e.request_id: e.valid_until
        for e in await _subject(intake, IdentityAccessApproved)
        if isinstance(e, IdentityAccessApproved)
    }
    read_at: dict[str, datetime] = {}
    for e in await _subject(intake, IdentityDisclosed):
        if isinstance(e, IdentityDisclosed) and e.request_id:
            read_at.setdefault(e.request_id, e.occurred_at)
    now = utc_now()

    def waiting(e: IdentityAccessRequested) -> bool:
        if e.request_id in notes or e.request_id in read_at:
            return False
        until = approved_until.get(e.request_id)
        return until is None or now < until

    leads = list(dict.fromkeys(e.lead_id for e in reversed(asked) if waiting(e)))[:MOST_WAITING]
    for event in reversed(asked):
        if len(leads) >= MOST_LEADS:
            break
        if event.lead_id not in leads:
            leads.append(event.lead_id)
    numbers = await _ledger_numbers(intake, leads)
    shown: list[Shown] = []
    for lead_id in leads:
        try:
            listed = await intake.identity_requests(lead_id, principal)
        except NotFound:
            continue  # not one the person may see
        for request in listed:
            shown.append(
                Shown(
                    lead_id,
                    numbers.get(lead_id),
                    request,
                    request.asked_by(principal.actor),
                    notes.get(request.request_id, ""),
                    read_at.get(request.request_id),
                )
            )
    shown.sort(key=lambda s: s.request.asked_at, reverse=True)
    return shown


def _refusal(exc: Exception, lang: Language) -> tuple[int, str]:
    """A refused step as its status and one sentence in the page's language."""
    pick = 0 if lang == "zh" else 1
    if isinstance(exc, NotFound):
        return status.HTTP_404_NOT_FOUND, NO_SUCH[pick]
    if isinstance(exc, Gone):
        return status.HTTP_410_GONE, GONE[pick]
    if isinstance(exc, RuleViolation):
        code = status.HTTP_409_CONFLICT if isinstance(exc, Settled) else 422
        return code, exc.message_zh if lang == "zh" else exc.message
    if isinstance(exc, NotPermitted):
        zh = REFUSED_ZH.get(type(exc), "您不能进行此项操作。")
        code = status.HTTP_409_CONFLICT if isinstance(exc, NotReadable) else 403
        return code, zh if lang == "zh" else str(exc)
    if isinstance(exc, ConcurrencyConflict):
        return status.HTTP_409_CONFLICT, CHANGED[pick]
    return status.HTTP_503_SERVICE_UNAVAILABLE, STORE_FAILED[pick]


REFUSALS: Final = (
    NotFound,
    Gone,
    RuleViolation,
    NotPermitted,
    ConcurrencyConflict,
    LogUnavailable,
    AppendOutcomeUnknown,
)


async def _page(
    request: Request,
    lang: Language,
    session: Session,
    account: Account,
    status_code: int = 200,
    *,
    done: str = "",
    problems: Problems | None = None,
    failed: str = "",
    values: dict[str, str] | None = None,
) -> Response:
    """The desk: the form to ask, the person's own requests, and for a custodian the others'
    to decide. A role that handles no leads is told so."""
    if account.role not in MAY_ASK:
        answer = render(
            request,
            "message.html",
            lang,
            status.HTTP_403_FORBIDDEN,
            person=account,
            csrf_token=session.csrf,
            heading="查阅举报人身份" if lang == "zh" else "Reporters' identities",
            text="您的岗位不办理线索，不能申请查阅举报人身份。"
            if lang == "zh"
            else "Your role handles no leads and does not ask for reporters' identities.",
            problem=True,
        )
        return renewed(request, answer, session)
    principal = principal_of(account)
    shown = await _requests(intake_of(request), principal)
    pick = 0 if lang == "zh" else 1
    answer = render(
        request,
        "identity_requests.html",
        lang,
        status_code,
        person=account,
        csrf_token=session.csrf,
        custodian=account.role is Role.CUSTODIAN,
        mine=[s for s in shown if s.mine],
        to_decide=[s for s in shown if not s.mine and s.request.status == "pending"],
        decided=[s for s in shown if not s.mine and s.request.status != "pending"],
        reasons=[(c.value, names[pick]) for c, names in REASON_LABELS.items()],
        reason_label=lambda c: REASON_LABELS[c][pick],
        role_label=lambda code: ROLES.get(code, (code, code))[pick],
        unit_label=lambda code: _unit_label(intake_of(request), code, lang),
        done=DONE[done][pick] if done in DONE else "",
        problems=problems or Problems(lang),
        failed=failed,
        values=values or {},
        longest_reason=LONGEST_REASON,
        longest_hours=LONGEST_VALIDITY_HOURS,
    )
    return renewed(request, answer, session)


def _unit_label(intake: Intake, code: str | None, lang: Language) -> str:
    unit = intake.org.unit(code) if code else None
    return unit.label(lang) if unit else (code or "")


def _back(request: Request, lang: Language, done: str) -> RedirectResponse:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    target = f"{root}{PAGE}?done={done}" + ("" if lang == "zh" else "&lang=en")
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


@router.get(PAGE)
async def identity_requests_page(
    request: Request, lang: LangQuery = "zh", done: str = ""
) -> Response:
    session, account = signed_in(request)
    return await _page(request, lang, session, account, done=done[:20])


async def _form(request: Request, session: Session) -> dict[str, str]:
    form = await request.form()
    check_form(session, text_of(form, "csrf_token"))
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


@router.post(PAGE)
async def ask(request: Request, lang: LangQuery = "zh") -> Response:
    session, account = signed_in(request)
    sent = await _form(request, session)
    problems = Problems(lang)
    intake = intake_of(request)

    def again(code: int) -> Any:
        return _page(
            request, lang, session, account, code, problems=problems, failed="ask", values=sent
        )

    if account.role not in MAY_ASK:
        return await _page(request, lang, session, account)
    given = sent.get("lead", "").strip()[:64]
    lead_id = await _lead_of(intake, given) if given else None
    if lead_id is None:
        problems.add(
            "请填写线索编号或台账编号。"
            if lang == "zh"
            else "Give the lead's id or ledger number.",
            "lead",
        )
        return await again(status.HTTP_422_UNPROCESSABLE_CONTENT)
    try:
        body = IdentityRequestIn.model_validate(
            {"reason_category": sent.get("reason_category", ""), "reason": sent.get("reason", "")}
        )
    except ValidationError as invalid:
        problems.add_invalid(invalid)
        return await again(status.HTTP_422_UNPROCESSABLE_CONTENT)
    command = AskForIdentity(lead_id, body.reason_category, body.reason)
    try:
        await intake.ask_for_identity(command, principal_of(account))
    except REFUSALS as refused:
        code, text = _refusal(refused, lang)
        problems.add(text, "lead" if code == status.HTTP_404_NOT_FOUND else "")
        return await again(code)
    return renewed(request, _back(request, lang, "asked"), session)


@router.post(PAGE + "/{lead_id}/{request_id}/{step}")
async def decide_or_read(
    request: Request,
    lead_id: LeadPath,
    request_id: RequestPath,
    step: Annotated[str, Path(pattern=r"^(approve|refuse|read)$")],
    lang: LangQuery = "zh",
) -> Response:
    session, account = signed_in(request)
    sent = await _form(request, session)
    problems = Problems(lang)
    intake = intake_of(request)
    principal = principal_of(account)
    failed = f"{step}-{request_id}"

    def again(code: int) -> Any:
        return _page(
            request, lang, session, account, code, problems=problems, failed=failed, values=sent
        )

    if account.role not in MAY_ASK:
        return await _page(request, lang, session, account)
    if step != "read" and account.role is not Role.CUSTODIAN:
        problems.add(ONLY_CUSTODIANS[0 if lang == "zh" else 1])
        return await again(status.HTTP_403_FORBIDDEN)
    try:
        if step == "read":
            identity = await intake.read_identity(ReadIdentity(lead_id, request_id), principal)
        elif step == "approve":
            hours = ApprovalIn.model_validate({"valid_hours": sent.get("valid_hours") or 24})
            command = DecideOnIdentity(
                lead_id, request_id, approve=True, valid_hours=hours.valid_hours
            )
            await intake.decide_on_identity(command, principal)
        else:
            note = RefusalIn.model_validate({"reason": sent.get("reason", "")})
            command = DecideOnIdentity(lead_id, request_id, approve=False, reason=note.reason)
            await intake.decide_on_identity(command, principal)
    except ValidationError as invalid:
        problems.add_invalid(invalid)
        return await again(status.HTTP_422_UNPROCESSABLE_CONTENT)
    except REFUSALS as refused:
        code, text = _refusal(refused, lang)
        problems.add(text)
        return await again(code)
    if step != "read":
        return renewed(request, _back(request, lang, f"{step}d"), session)
    numbers = await _ledger_numbers(intake, [lead_id])
    answer = render(
        request,
        "identity_read.html",
        lang,
        person=account,
        csrf_token=session.csrf,
        identity=identity,
        lead_id=lead_id,
        ledger_number=numbers.get(lead_id),
    )
    # Shown once: no cache, no back-button copy, anywhere.
    answer.headers["Cache-Control"] = "no-store, max-age=0"
    answer.headers["Pragma"] = "no-cache"
    return renewed(request, answer, session)
