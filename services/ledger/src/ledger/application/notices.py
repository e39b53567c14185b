"""Notices (通报): the office drafts one for a unit and a period with the facts the ledger
recorded, revises it, issues it (final from then on) or withdraws the draft; every member
of the town's staff reads the issued ones.

Who may see a notice is decided first: a draft is the office's and its clerks' (to anyone
else it answers as one that does not exist). A command decides on the notice's own events
(read back by its subject) and appends with their last sequence, as commands on a lead do;
one notice is read from its events too, so it is shown as it stands, never as a read model
that has not caught up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from common.auth import Principal
from common.errors import NotFound, RuleViolation
from common.events import Event
from common.events.notices import NoticeFacts, NoticeKind
from common.eventstore import LeadHistory
from common.subjects import Stream
from ledger.application.items import record
from ledger.application.reading import _in_one_go
from ledger.domain import notice as rules
from ledger.domain.notice import DRAFTERS, NO_SUCH_NOTICE, Notice, NoticeStatus
from ledger.projection import notice_queries

if TYPE_CHECKING:
    from ledger.application.context import Ledger

KIND: Final = "notice"
ISSUED_ONLY: Final = frozenset({NoticeStatus.ISSUED.value})
EVERY_STATUS: Final = frozenset(s.value for s in NoticeStatus)


@dataclass(frozen=True)
class NoticeRead:
    """One notice as its events make it, with them."""

    notice: Notice
    history: LeadHistory


def may_see_drafts(principal: Principal) -> bool:
    return principal.role in DRAFTERS


async def read(ledger: Ledger, principal: Principal, notice_id: str) -> NoticeRead:
    """The notice from its own events, if the reader may see it; else the 404 of a notice
    that does not exist."""
    history = await ledger.runtime.store(Stream.LEDGER).read_item(KIND, notice_id)
    notice = rules.fold(e.event for e in history.events)
    if notice.status is not NoticeStatus.ISSUED and not may_see_drafts(principal):
        raise NotFound(NO_SUCH_NOTICE)
    return NoticeRead(notice, history)


async def _load(ledger: Ledger, notice_id: str, principal: Principal) -> tuple[Notice, int]:
    found = await read(ledger, principal, notice_id)
    return found.notice, found.history.last_sequence


def _unit_name(ledger: Ledger, code: str) -> str:
    unit = ledger.runtime.org.unit(code)
    if unit is None:
        known = ", ".join(u.code for u in ledger.runtime.org.units)
        raise RuleViolation(
            f"unknown unit {code!r}; one of {known}", f"没有这个单位 {code!r}", field="unit"
        )
    return unit.name


async def facts(ledger: Ledger, unit: str, period_from: date, period_to: date) -> NoticeFacts:
    """What the ledger recorded against the unit in the period: the draft's facts."""
    rules.check_period(period_from, period_to)
    _unit_name(ledger, unit)
    return await _in_one_go(
        ledger, lambda conn: notice_queries.facts_for(conn, unit, period_from, period_to)
    )


def suggested_text(
    kind: NoticeKind, unit_name: str, period_from: date, period_to: date, found: NoticeFacts
) -> tuple[str, str]:
    """A title and body for the clerk to edit, from the facts."""
    period = f"{period_from:%Y年%m月%d日}至{period_to:%Y年%m月%d日}"
    if kind == "criticism":
        title = f"关于对{unit_name}扫黑除恶线索办理工作的通报批评"
        body = (
            f"{period}，{unit_name}线索办理超期 {found.overdue} 件，"
            f"逾期答复举报人 {found.late_answers} 件，退回移交线索 {found.returns} 件。"
            "对工作开展不力、态度消极、简单应付的，予以通报批评，并责令限期整改。"
        )
    else:
        title = f"关于对{unit_name}扫黑除恶线索办理工作的通报表扬"
        body = (
            f"{period}，{unit_name}线索办理超期 {found.overdue} 件，"
            f"逾期答复举报人 {found.late_answers} 件，退回移交线索 {found.returns} 件。"
            "该单位办理及时、答复到位，予以通报表扬。"
        )
    return title, body


async def draft(
    ledger: Ledger,
    principal: Principal,
    *,
    kind: NoticeKind,
    unit: str,
    period_from: date,
    period_to: date,
    title: str | None,
    body: str | None,
) -> Event:
    # The role first: nobody else learns anything of a unit's facts through here.
    rules.permitted(principal.actor, DRAFTERS, "draft")
    found = await facts(ledger, unit, period_from, period_to)
    suggested = suggested_text(kind, _unit_name(ledger, unit), period_from, period_to, found)
    event = rules.draft(
        uuid.uuid4().hex,
        kind,
        unit,
        period_from,
        period_to,
        title or suggested[0],
        body or suggested[1],
        found,
        principal.actor,
    )
    return await record(ledger, event, 0)


async def revise(
    ledger: Ledger, principal: Principal, notice_id: str, kind: NoticeKind, title: str, body: str
) -> Event:
    notice, sequence = await _load(ledger, notice_id, principal)
    return await record(ledger, rules.revise(notice, kind, title, body, principal.actor), sequence)


async def issue(ledger: Ledger, principal: Principal, notice_id: str) -> Event:
    notice, sequence = await _load(ledger, notice_id, principal)
    return await record(ledger, rules.issue(notice, principal.actor), sequence)


async def withdraw(ledger: Ledger, principal: Principal, notice_id: str, reason: str) -> Event:
    notice, sequence = await _load(ledger, notice_id, principal)
    return await record(ledger, rules.withdraw(notice, reason, principal.actor), sequence)


async def listed(
    ledger: Ledger,
    principal: Principal,
    *,
    status: str | None,
    unit: str | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """The notices the reader may see: issued ones for all, drafts and withdrawn ones for
    the office and its clerks; ``status`` narrows that, never widens it."""
    allowed = EVERY_STATUS if may_see_drafts(principal) else ISSUED_ONLY
    statuses = allowed & {status} if status is not None else allowed
    return await _in_one_go(
        ledger,
        lambda conn: notice_queries.listed(
            conn, frozenset(statuses), unit=unit, kind=kind, limit=limit, offset=offset
        ),
    )
