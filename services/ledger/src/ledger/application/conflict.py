"""The conflict-of-interest guard where the ledger hands a lead to a person, and the office's
request to the committee to let a refused hand-over through (ledger.domain.conflict).

What the rule reads: the lead's texts as the ledger holds them (its row, intake's report,
the reporter's additions), the person's name and declarations from the accounts projection,
and the committee's directives about the lead, read from the stream by the lead's subject
(never oversight's private stream).

A task or rectification item given a responsible person (opened, or reassigned to another
person) is judged by the same rule on the item's problem and measures, its unit when that
is a village, and the committee's accountability and umbrella guards standing on any lead
(ledger.domain.conflict says why those and why no override); the refusal is the lead's:
422 on the field ``assignee`` with the reasons."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from common.auth import Principal
from common.errors import NotPermitted, RuleViolation
from common.events import Event, Role
from common.events.catalogue import LeadRegistered
from common.events.conflict import (
    ConflictGuardLifted,
    ConflictGuardSet,
    ConflictOverrideRequested,
)
from common.organisation import UnitKind
from common.subjects import Stream
from ledger.application.reading import in_one_go, visible
from ledger.domain import conflict
from ledger.projection import queries

if TYPE_CHECKING:
    from ledger.application.context import Ledger


def _target(ledger: Ledger, user: str) -> conflict.Target:
    runtime = ledger.runtime
    account = runtime.accounts.account(user)
    person = runtime.directory.person(user) if account is None else None
    display = account.display_name if account else (person.display_name if person else user)
    declared = runtime.accounts.declarations_of(user)
    return conflict.Target(
        user=user,
        display_name=display,
        aliases=tuple(d.name for d in declared if d.kind == "alias"),
        ties=tuple(
            (d.kind, d.name) for d in declared if d.kind in ("village", "person", "business")
        ),
        recused_from=frozenset(d.name for d in declared if d.kind == "recusal"),
    )


async def _texts(ledger: Ledger, registered: LeadRegistered) -> conflict.LeadTexts:
    lead_id = registered.lead_id

    def read(conn: Connection) -> conflict.LeadTexts:
        report = queries.report_of(conn, lead_id)
        thread = queries.thread_of(conn, lead_id)
        return conflict.LeadTexts(
            summary=registered.summary,
            details=(report or {}).get("details") or "",
            additions=tuple(e["text"] for e in thread if e["author_role"] == Role.REPORTER.value),
            village=registered.village,
            villages={
                u.code: u.name for u in ledger.runtime.org.units if u.kind is UnitKind.VILLAGE
            },
        )

    return await in_one_go(ledger, read)


async def directives_of(ledger: Ledger, lead_id: str) -> list[Event]:
    history = await ledger.runtime.store(Stream.DIRECTIVES).read_lead(lead_id)
    return [e.event for e in history.events]


async def grounds(
    ledger: Ledger, registered: LeadRegistered, user: str
) -> tuple[conflict.Ground, ...]:
    """Why handing the lead to ``user`` is refused; none when it may be."""
    lead_id = registered.lead_id
    texts, target, directives = await asyncio.gather(
        _texts(ledger, registered),
        asyncio.to_thread(_target, ledger, user),
        directives_of(ledger, lead_id),
    )
    return conflict.refusals(lead_id, texts, target, conflict.guards_of(directives))


async def check_conflict(ledger: Ledger, registered: LeadRegistered, user: str) -> bool:
    """Refuses (422, naming the assignee) a hand-over the guard stops and the committee did
    not approve; True when one it stops goes through on the committee's approval."""
    lead_id = registered.lead_id
    found = await grounds(ledger, registered, user)
    if not found:
        return False
    if user in conflict.approved_of(await directives_of(ledger, lead_id)):
        return True
    raise RuleViolation(
        "conflict of interest: "
        + "; ".join(g.en for g in found)
        + " (the office may ask the committee for an override)",
        "存在利害关系，不得指派：" + "；".join(g.zh for g in found) + "（可由扫黑办报请纪委批准）",
        field="assignee",
    )


async def request_override(
    ledger: Ledger, lead_id: str, user: str, reason: str, principal: Principal
) -> ConflictOverrideRequested:
    """The office asks the committee to let the lead be handed to ``user`` anyway; only a
    hand-over the guard refuses is asked about."""
    if principal.role is not Role.OFFICE:
        raise NotPermitted("only the leading-group office asks the committee for an override")
    await visible(ledger, lead_id, principal)
    lead, _ = await ledger.load(lead_id)
    found = await grounds(ledger, lead.registered, user)
    if not found:
        raise RuleViolation(
            "nothing stops handing the lead to this person: no override is needed",
            "该人员与本线索无利害关系，无需报批",
            field="assignee",
        )
    event = ConflictOverrideRequested(
        lead_id=lead_id,
        account=user,
        reason=reason,
        grounds=tuple(g.code for g in found),
        actor=principal.actor,
    )
    await ledger.runtime.store(Stream.LEDGER).append(event)
    return event


async def guards_on_any_lead(ledger: Ledger) -> dict[str, str]:
    """The committee's accountability and umbrella guards standing on any lead, read from
    DIRECTIVES by the guards' own subjects (two short reads: guards are one per person a
    case is about, not one per lead)."""
    store = ledger.runtime.store(Stream.DIRECTIVES)
    sets, lifts = await asyncio.gather(
        store.read_subject(f"{store.subject_prefix}.lead.*.{ConflictGuardSet.type_name()}"),
        store.read_subject(f"{store.subject_prefix}.lead.*.{ConflictGuardLifted.type_name()}"),
    )
    in_order = sorted((*sets.events, *lifts.events), key=lambda stored: stored.sequence)
    return conflict.guards_on_any_lead(stored.event for stored in in_order)


async def check_task_conflict(
    ledger: Ledger, task_id: str, problem: str, measures: tuple[str, ...], unit: str, user: str
) -> None:
    """Refuses (422, naming the assignee) making ``user`` responsible for an item the rule
    stops; an item has no override (ledger.domain.conflict says why)."""
    org = ledger.runtime.org
    villages = {u.code: u.name for u in org.units if u.kind is UnitKind.VILLAGE}
    target, guards = await asyncio.gather(
        asyncio.to_thread(_target, ledger, user), guards_on_any_lead(ledger)
    )
    texts = conflict.TaskTexts(
        problem=problem,
        measures=measures,
        village=unit if unit in villages else None,
        villages=villages,
    )
    found = conflict.task_refusals(task_id, texts, target, guards)
    if found:
        raise RuleViolation(
            "conflict of interest: "
            + "; ".join(g.en for g in found)
            + " (make another person responsible)",
            "存在利害关系，不得指派：" + "；".join(g.zh for g in found) + "（请另行确定责任人）",
            field="assignee",
        )
