"""A notice (通报) of praise or criticism: its state folded from its own events, and the
decisions made on it.

A draft is the office's to change; once issued the notice is final (the units and the
committee act on what was issued), so every change of it is refused as :class:`Settled`,
and so is any change of a withdrawn draft."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Final

from common.errors import NotFound, NotPermitted, RuleViolation, Settled
from common.events import Actor, Event, Role
from common.events.notices import (
    NoticeDrafted,
    NoticeFacts,
    NoticeIssued,
    NoticeKind,
    NoticeRevised,
    NoticeWithdrawn,
)
from ledger.domain import periods
from ledger.domain.periods import LONGEST_PERIOD_DAYS

NO_SUCH_NOTICE: Final = "no such notice, or not one you may see"
#: who drafts, revises and withdraws drafts
DRAFTERS: Final = frozenset({Role.OFFICE, Role.CLERK})
#: who issues: the office signs a notice off, the clerk prepares it
ISSUERS: Final = frozenset({Role.OFFICE})


class NoticeStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Notice:
    drafted: NoticeDrafted
    kind: NoticeKind
    title: str
    body: str
    status: NoticeStatus = NoticeStatus.DRAFT

    @property
    def notice_id(self) -> str:
        return self.drafted.notice_id


def fold(events: Iterable[Event]) -> Notice:
    notice: Notice | None = None
    for event in events:
        if isinstance(event, NoticeDrafted):
            notice = Notice(drafted=event, kind=event.kind, title=event.title, body=event.body)
        elif notice is not None:
            notice = evolve(notice, event)
    if notice is None:
        raise NotFound(NO_SUCH_NOTICE)
    return notice


def evolve(notice: Notice, event: Event) -> Notice:
    match event:
        case NoticeRevised():
            return replace(notice, kind=event.kind, title=event.title, body=event.body)
        case NoticeIssued():
            return replace(notice, status=NoticeStatus.ISSUED)
        case NoticeWithdrawn():
            return replace(notice, status=NoticeStatus.WITHDRAWN)
    return notice


# --- guards ---------------------------------------------------------------------------


def permitted(actor: Actor, roles: frozenset[Role], doing: str) -> None:
    if actor.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise NotPermitted(f"only {allowed} may {doing} a notice; you are {actor.role.value}")


def _a_draft(notice: Notice, doing: str, doing_zh: str) -> None:
    if notice.status is NoticeStatus.ISSUED:
        raise Settled(
            f"the notice was issued and can no longer be changed: {doing} is not possible",
            f"该通报已印发，不能再{doing_zh}",
        )
    if notice.status is NoticeStatus.WITHDRAWN:
        raise Settled(
            f"the draft was withdrawn: {doing} is not possible; draft a new notice",
            f"该通报草稿已撤回，不能再{doing_zh}；请重新起草",
        )


def check_period(period_from: date, period_to: date) -> None:
    periods.check_period(
        period_from,
        period_to,
        backwards=("the period ends before it begins", "通报期间的结束日期早于开始日期"),
        too_long=(
            f"a notice covers at most {LONGEST_PERIOD_DAYS} days",
            f"通报期间最长 {LONGEST_PERIOD_DAYS} 天",
        ),
    )


# --- decisions ------------------------------------------------------------------------


def draft(
    notice_id: str,
    kind: NoticeKind,
    unit: str,
    period_from: date,
    period_to: date,
    title: str,
    body: str,
    facts: NoticeFacts,
    actor: Actor,
) -> NoticeDrafted:
    permitted(actor, DRAFTERS, "draft")
    check_period(period_from, period_to)
    return NoticeDrafted(
        notice_id=notice_id,
        kind=kind,
        unit=unit,
        period_from=period_from,
        period_to=period_to,
        title=title,
        body=body,
        facts=facts,
        actor=actor,
    )


def revise(notice: Notice, kind: NoticeKind, title: str, body: str, actor: Actor) -> NoticeRevised:
    permitted(actor, DRAFTERS, "revise")
    _a_draft(notice, "a revision", "修改")
    if (kind, title, body) == (notice.kind, notice.title, notice.body):
        raise RuleViolation("the revision changes nothing", "修改后的内容与原稿相同")
    return NoticeRevised(
        notice_id=notice.notice_id,
        kind=kind,
        title=title,
        body=body,
        actor=actor,
        **notice.drafted.caused(),
    )


def issue(notice: Notice, actor: Actor) -> NoticeIssued:
    permitted(actor, ISSUERS, "issue")
    _a_draft(notice, "issuing it again", "重复印发")
    drafted = notice.drafted
    return NoticeIssued(
        notice_id=notice.notice_id,
        kind=notice.kind,
        title=notice.title,
        body=notice.body,
        unit=drafted.unit,
        period_from=drafted.period_from,
        period_to=drafted.period_to,
        facts=drafted.facts,
        actor=actor,
        **drafted.caused(),
    )


def withdraw(notice: Notice, reason: str, actor: Actor) -> NoticeWithdrawn:
    permitted(actor, DRAFTERS, "withdraw")
    _a_draft(notice, "withdrawing it", "撤回")
    return NoticeWithdrawn(
        notice_id=notice.notice_id, reason=reason, actor=actor, **notice.drafted.caused()
    )
