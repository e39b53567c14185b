"""The notices' HTTP API (通报): drafting help, draft, revise, issue, withdraw; the list
and one notice, and the notice as text to print. Included in the ledger's router
(``/v1/ledger/notices``)."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from common.auth import Principal, require_roles
from common.errors import RuleViolation
from common.events import Event
from common.events.notices import NoticeFacts, NoticeIssued
from common.http_errors import errors
from common.paths import NoticeId
from common.times import CHINA
from ledger.application import Ledger
from ledger.application import notices as app
from ledger.domain.notice import Notice
from ledger.idempotency import IdempotencyKey
from ledger.notice_schemas import (
    KIND_LABELS,
    MONTH,
    STATUS_LABELS,
    UNIT,
    DraftingHelp,
    NoticeDraftIn,
    NoticeIssueIn,
    NoticeOut,
    NoticeReviseIn,
    NoticeStep,
    NoticeWithdrawIn,
)
from ledger.projection.queries import READERS

router = APIRouter(prefix="/notices", tags=["notices"])

Reader = Annotated[Principal, Depends(require_roles(*READERS))]
LARGEST_PAGE: Final = 200


async def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]


def period_of(
    month: str | None, period_from: date | None, period_to: date | None
) -> tuple[date, date]:
    """A month, or a first and last day: one of the two, not both, not neither."""
    if month is not None and (period_from is not None or period_to is not None):
        raise RuleViolation(
            "give a month or a first and last day, not both",
            "请填写月份或起止日期，二选一",
            field="month",
        )
    if month is not None:
        year, number = (int(part) for part in month.split("-"))
        return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])
    if period_from is None or period_to is None:
        raise RuleViolation(
            "give a month, or a first and last day",
            "请填写通报月份，或起始和截止日期",
            field="month",
        )
    return period_from, period_to


def _labelled(ledger: Ledger, fields: dict[str, Any]) -> NoticeOut:
    unit = ledger.runtime.org.unit(fields["unit"])
    zh, en = STATUS_LABELS[fields["status"]]
    kind_zh, kind_en = KIND_LABELS[fields["kind"]]
    return NoticeOut(
        **fields,
        status_label=zh,
        status_label_en=en,
        kind_label=kind_zh,
        kind_label_en=kind_en,
        unit_name=unit.name if unit is not None else fields["unit"],
    )


def notice_out(ledger: Ledger, read: app.NoticeRead) -> NoticeOut:
    notice: Notice = read.notice
    drafted = notice.drafted
    issued = next((s.event for s in read.history.events if isinstance(s.event, NoticeIssued)), None)
    return _labelled(
        ledger,
        {
            "notice_id": notice.notice_id,
            "status": notice.status.value,
            "kind": notice.kind,
            "unit": drafted.unit,
            "period_from": drafted.period_from,
            "period_to": drafted.period_to,
            "title": notice.title,
            "content": notice.body,
            "facts": drafted.facts,
            "drafted_at": drafted.occurred_at,
            "issued_at": issued.occurred_at if issued is not None else None,
            "history": [_step(s.event) for s in read.history.events],
        },
    )


def _step(event: Event) -> NoticeStep:
    return NoticeStep(
        event_type=event.event_type,
        occurred_at=event.occurred_at,
        actor=event.actor.model_dump(mode="json"),
    )


def listed_out(ledger: Ledger, row: dict[str, Any]) -> NoticeOut:
    fields = {name: row[name] for name in NoticeOut.model_fields if name in row}
    fields.update(content=row["body"], facts=NoticeFacts.model_validate(row["facts"]))
    return _labelled(ledger, fields)


async def _answer(ledger: Ledger, principal: Principal, event: Event) -> NoticeOut:
    return notice_out(ledger, await app.read(ledger, principal, event.subject_id or ""))


@router.get(
    "/facts",
    response_model=DraftingHelp,
    summary="起草帮助：单位在期间内的超期、逾期答复、退回情况 / The facts for a draft",
    description=(
        "按单位和月份（或起止日期）列出台账记录的超期线索、逾期答复和退回移交，并给出可修改的通报文字；"
        "仅扫黑办和文书可用。 / What the ledger recorded against a unit in a month (or from a"
        " first to a last day): overdue leads, late answers, returned transfers, and a text to"
        " edit. The office and its clerks only."
    ),
)
async def drafting_help(
    principal: Reader,
    ledger: LedgerDep,
    unit: Annotated[str, Query(min_length=2, max_length=40, pattern=UNIT)],
    kind: Literal["praise", "criticism"] = "criticism",
    month: Annotated[str | None, Query(max_length=7, pattern=MONTH)] = None,
    period_from: Annotated[date | None, Query(alias="from")] = None,
    period_to: Annotated[date | None, Query(alias="to")] = None,
) -> DraftingHelp:
    app.may_draft(principal)
    first, last = period_of(month, period_from, period_to)
    helped = await app.drafting_help(ledger, principal, kind, unit, first, last)
    return DraftingHelp(
        unit=unit,
        period_from=first,
        period_to=last,
        facts=helped.facts,
        title=helped.title,
        content=helped.content,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NoticeOut,
    summary="起草通报 / Draft a notice of praise or criticism, with the ledger's facts",
    responses=errors(404),
)
async def draft(
    body: NoticeDraftIn, principal: Reader, ledger: LedgerDep, key: IdempotencyKey = None
) -> NoticeOut:
    app.may_draft(principal)
    first, last = period_of(body.month, body.period_from, body.period_to)
    event = await app.draft(
        ledger,
        principal,
        kind=body.kind,
        unit=body.unit,
        period_from=first,
        period_to=last,
        title=body.title,
        body=body.content,
        key=key,
    )
    return await _answer(ledger, principal, event)


@router.get(
    "",
    response_model=list[NoticeOut],
    summary="通报列表 / The notices: issued ones for all staff, drafts for the office",
)
async def list_notices(
    principal: Reader,
    ledger: LedgerDep,
    notice_status: Annotated[
        Literal["draft", "issued", "withdrawn"] | None, Query(alias="status")
    ] = None,
    unit: Annotated[str | None, Query(min_length=2, max_length=40, pattern=UNIT)] = None,
    kind: Literal["praise", "criticism"] | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=LARGEST_PAGE)] = 50,
) -> list[NoticeOut]:
    rows = await app.listed(
        ledger,
        principal,
        status=notice_status,
        unit=unit,
        kind=kind,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return [listed_out(ledger, row) for row in rows]


@router.get(
    "/{notice_id}",
    response_model=NoticeOut,
    summary="一份通报及其经过 / One notice as it stands, with its history",
    responses=errors(404),
)
async def get_notice(notice_id: NoticeId, principal: Reader, ledger: LedgerDep) -> NoticeOut:
    return notice_out(ledger, await app.read(ledger, principal, notice_id))


@router.get(
    "/{notice_id}/text",
    response_class=Response,
    summary="通报全文（打印用） / The notice as plain text, to print",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **errors(404)},
)
async def notice_text(notice_id: NoticeId, principal: Reader, ledger: LedgerDep) -> Response:
    shown = notice_out(ledger, await app.read(ledger, principal, notice_id))
    return Response(printable(shown), media_type="text/plain; charset=utf-8")


def printable(notice: NoticeOut) -> str:
    """The notice as it is printed: title, text, the facts cited, when issued (China time)."""
    facts = notice.facts
    when = (
        f"印发时间：{notice.issued_at.astimezone(CHINA):%Y-%m-%d %H:%M}（北京时间）"
        if notice.issued_at is not None
        else f"状态：{notice.status_label}（未印发）"
    )
    lines = [
        notice.title,
        "",
        notice.content,
        "",
        f"被通报单位：{notice.unit_name}",
        f"通报期间：{notice.period_from:%Y-%m-%d} 至 {notice.period_to:%Y-%m-%d}",
        f"超期 {facts.overdue} 件；逾期答复 {facts.late_answers} 件；退回移交 {facts.returns} 件",
    ]
    if facts.lead_ids:
        lines.append("涉及线索：" + "、".join(facts.lead_ids))
    lines += [when, ""]
    return "\n".join(lines)


def _command(path: str, summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.post(
        f"/{{notice_id}}/{path}",
        response_model=NoticeOut,
        summary=summary,
        responses=errors(404, 409),
    )


@_command("revise", "修改通报草稿 / Revise a draft (an issued notice is refused, 409)")
async def revise(
    notice_id: NoticeId, body: NoticeReviseIn, principal: Reader, ledger: LedgerDep
) -> NoticeOut:
    event = await app.revise(ledger, principal, notice_id, body.kind, body.title, body.content)
    return await _answer(ledger, principal, event)


@_command("issue", "印发通报 / Issue the notice: final from now on (the office only)")
async def issue(
    notice_id: NoticeId, body: NoticeIssueIn, principal: Reader, ledger: LedgerDep
) -> NoticeOut:
    return await _answer(ledger, principal, await app.issue(ledger, principal, notice_id))


@_command("withdraw", "撤回通报草稿 / Withdraw a draft, with the reason (not once issued)")
async def withdraw(
    notice_id: NoticeId, body: NoticeWithdrawIn, principal: Reader, ledger: LedgerDep
) -> NoticeOut:
    event = await app.withdraw(ledger, principal, notice_id, body.reason)
    return await _answer(ledger, principal, event)
