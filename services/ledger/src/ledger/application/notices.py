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
from common.events import Event, Role
from common.events.notices import NoticeFacts, NoticeKind
from common.eventstore import LeadHistory
from common.organisation import Organisation
from common.subjects import Stream
from ledger.application.items import keyed_id, record
from ledger.application.reading import in_one_go
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


def may_draft(principal: Principal) -> None:
    """Asked before anything else of a draft: nobody else learns anything of it."""
    rules.permitted(principal.actor, DRAFTERS, "draft")


async def read(ledger: Ledger, principal: Principal, notice_id: str) -> NoticeRead:
    """The notice from its own events, if the reader may see it; else the 404 of a notice
    that does not exist."""
    history = await ledger.runtime.store(Stream.LEDGER).read_item(KIND, notice_id)
    notice = rules.fold(e.event for e in history.events)
    if not _sees(ledger.runtime.org, principal, notice.drafted.unit) or (
        notice.status is not NoticeStatus.ISSUED and not may_see_drafts(principal)
    ):
        raise NotFound(NO_SUCH_NOTICE)
    return NoticeRead(notice, history)


async def _load(ledger: Ledger, notice_id: str, principal: Principal) -> tuple[Notice, int]:
    found = await read(ledger, principal, notice_id)
    return found.notice, found.history.last_sequence


def towns_seen(org: Organisation, principal: Principal) -> frozenset[str] | None:
    """The towns whose notices the principal reads, None for every one: in a county of
    several towns a town's people read their town's (as they read its leads), the county's
    own people and an administrator placed in no unit every town's."""
    if (
        len(org.towns) == 1
        or org.is_county_level(principal.unit)
        or (principal.unit is None and principal.role is Role.ADMIN)
    ):
        return None
    town = org.town_of(principal.unit)
    return frozenset({town.code}) if town is not None else frozenset()


def _sees(org: Organisation, principal: Principal, unit: str) -> bool:
    towns = towns_seen(org, principal)
    town = org.town_of(unit)
    return towns is None or (town is not None and town.code in towns)


def _unit_name(ledger: Ledger, principal: Principal, code: str) -> str:
    """The unit a notice may be about, for this drafter: one of their town's."""
    org = ledger.runtime.org
    unit = org.unit(code)
    if unit is None or not _sees(org, principal, code):
        known = ", ".join(u.code for u in org.units if _sees(org, principal, u.code))
        raise RuleViolation(
            f"no unit {code!r} of your town; one of {known}",
            f"本镇没有这个单位 {code!r}；可选：{known}",
            field="unit",
        )
    return unit.name


@dataclass(frozen=True)
class DraftingHelp:
    """What the ledger recorded against the unit in the period, and a text to edit."""

    facts: NoticeFacts
    title: str
    content: str


async def drafting_help(
    ledger: Ledger,
    principal: Principal,
    kind: NoticeKind,
    unit: str,
    period_from: date,
    period_to: date,
) -> DraftingHelp:
    may_draft(principal)
    rules.check_period(period_from, period_to)
    name = _unit_name(ledger, principal, unit)
    found = await in_one_go(
        ledger, lambda conn: notice_queries.facts_for(conn, unit, period_from, period_to)
    )
    return DraftingHelp(found, *suggested_text(kind, name, period_from, period_to, found))


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
    key: str | None = None,
) -> Event:
    """Draft a notice. With ``key`` (a client's Idempotency-Key), a retry gets the draft the
    first attempt made, never a second one."""
    may_draft(principal)
    notice_id = keyed_id(principal, key) if key is not None else uuid.uuid4().hex
    if key is not None:
        earlier = await ledger.runtime.store(Stream.LEDGER).read_item(KIND, notice_id)
        if earlier.events:
            return earlier.events[0].event
    helped = await drafting_help(ledger, principal, kind, unit, period_from, period_to)
    event = rules.draft(
        notice_id,
        kind,
        unit,
        period_from,
        period_to,
        title or helped.title,
        body or helped.content,
        helped.facts,
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
    the office and its clerks, of the towns they see; ``status`` narrows that, never
    widens it."""
    allowed = EVERY_STATUS if may_see_drafts(principal) else ISSUED_ONLY
    statuses = allowed & {status} if status is not None else allowed
    org = ledger.runtime.org
    towns = towns_seen(org, principal)
    units = (
        None
        if towns is None
        else frozenset(u.code for u in org.units if _sees(org, principal, u.code))
    )
    return await in_one_go(
        ledger,
        lambda conn: notice_queries.listed(
            conn,
            frozenset(statuses),
            units=units,
            unit=unit,
            kind=kind,
            limit=limit,
            offset=offset,
        ),
    )
