"""The commands a person gives on a lead, each in one place: the lead is loaded from its
own events, the rules decide, and the decision is appended with the lead's last sequence
(so two officers acting at once cannot both win: the second is told, 409, and does not
retry on a lead that changed under them)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import structlog

from common.auth import Principal
from common.errors import NotFound, NotPermitted, RuleViolation
from common.events import Event, Role, utc_now
from common.events.catalogue import Attachment
from common.organisation import UnitKind
from common.subjects import Stream
from ledger.application import conflict, towns
from ledger.application.reading import NO_SUCH_LEAD, visible
from ledger.commands import (
    Accept,
    Archive,
    Assign,
    Conclude,
    ExtendDeadline,
    GiveFeedback,
    RecordVerification,
    Reopen,
    Return,
    Transfer,
)
from ledger.domain import lead as rules
from ledger.domain.lead import LedgerLead

if TYPE_CHECKING:
    from ledger.application.context import Ledger

log = structlog.get_logger(__name__)

# Who may act on a lead at all; the lead's holder is checked by the rules.
HANDLING_ROLES: Final = frozenset({Role.OFFICE, Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE})


@dataclass(frozen=True)
class Recorded:
    """What a command appended, and the lead as the event leaves it."""

    event: Event
    lead: LedgerLead


async def transfer(ledger: Ledger, command: Transfer, principal: Principal) -> Recorded:
    lead, sequence = await _open(ledger, command.lead_id, principal)
    _check_handling_unit(ledger, command.to_unit)
    towns.check_transfer(ledger.runtime.org, lead.registered, command.to_unit)
    event = rules.transfer(lead, command.to_unit, command.reason, principal.actor)
    return await _record(ledger, lead, sequence, event)


async def accept(ledger: Ledger, command: Accept, principal: Principal) -> Recorded:
    lead, sequence = await _open(ledger, command.lead_id, principal)
    return await _record(ledger, lead, sequence, rules.accept(lead, principal.actor))


async def return_lead(ledger: Ledger, command: Return, principal: Principal) -> Recorded:
    lead, sequence = await _open(ledger, command.lead_id, principal)
    event = rules.return_transfer(lead, command.reason, principal.actor)
    return await _record(ledger, lead, sequence, event)


async def assign(ledger: Ledger, command: Assign, principal: Principal) -> Recorded:
    now = utc_now()
    lead, sequence = await _open(ledger, command.lead_id, principal)
    deadline = command.deadline or now + ledger.settings.deadline_for(lead.registered.category)
    event = rules.assign(
        lead,
        command.assignee,
        command.assignee_name,
        deadline,
        command.reason,
        principal.actor,
        now,
    )
    await asyncio.to_thread(check_assignee, ledger, event.unit, command.assignee)
    if await conflict.check_conflict(ledger, lead.registered, command.assignee):
        event = event.model_copy(update={"conflict_override": True})
    return await _record(ledger, lead, sequence, event)


async def extend_deadline(
    ledger: Ledger, command: ExtendDeadline, principal: Principal
) -> Recorded:
    lead, sequence = await _open(ledger, command.lead_id, principal)
    event = rules.extend_deadline(
        lead, command.deadline, command.reason, principal.actor, utc_now()
    )
    return await _record(ledger, lead, sequence, event)


async def record_verification(
    ledger: Ledger, command: RecordVerification, principal: Principal
) -> Recorded:
    lead, sequence = await _open(ledger, command.lead_id, principal)
    evidence = tuple(
        Attachment(name=e.name, size=e.size, sha256=e.sha256) for e in command.evidence
    )
    event = rules.record_verification(lead, command.note, evidence, principal.actor)
    return await _record(ledger, lead, sequence, event)


async def conclude(ledger: Ledger, command: Conclude, principal: Principal) -> Recorded:
    lead, sequence = await _open(ledger, command.lead_id, principal)
    event = rules.conclude(lead, command.result, command.summary, principal.actor)
    return await _record(ledger, lead, sequence, event)


async def give_feedback(ledger: Ledger, command: GiveFeedback, principal: Principal) -> Recorded:
    """The answer to the reporter: it joins the lead's exchange with the reporter, and
    intake shows it to the receipt holder."""
    lead, sequence = await _open(ledger, command.lead_id, principal)
    event = rules.give_feedback(lead, command.text, command.method, principal.actor)
    return await _record(ledger, lead, sequence, event)


async def archive(ledger: Ledger, command: Archive, principal: Principal) -> Recorded:
    lead, sequence = await _open(ledger, command.lead_id, principal)
    return await _record(ledger, lead, sequence, rules.archive(lead, principal.actor))


async def reopen(ledger: Ledger, command: Reopen, principal: Principal) -> Recorded:
    lead, sequence = await _open(ledger, command.lead_id, principal)
    event = rules.reopen(lead, command.reason, principal.actor)
    return await _record(ledger, lead, sequence, event)


async def _open(ledger: Ledger, lead_id: str, principal: Principal) -> tuple[LedgerLead, int]:
    """The lead a person's command decides on, and the sequence its append expects.

    Whether the principal may see the lead is asked before anything else is read, so a
    hidden lead answers exactly as one that does not exist (nothing of its state or
    holder shows through a refusal)."""
    if principal.role not in HANDLING_ROLES:
        raise NotPermitted(f"role '{principal.role.value}' does not handle leads")
    await visible(ledger, lead_id, principal)
    try:
        return await ledger.load(lead_id)
    except NotFound as exc:
        raise NotFound(NO_SUCH_LEAD) from exc


async def _record(ledger: Ledger, lead: LedgerLead, sequence: int, event: Event) -> Recorded:
    await ledger.runtime.store(Stream.LEDGER).append(event, expected_sequence=sequence)
    log.info(
        "ledger_event",
        lead_id=lead.lead_id,
        event_type=event.event_type,
        event_id=event.event_id,
        correlation_id=event.correlation_id,
    )
    return Recorded(event=event, lead=rules.evolve(lead, event))


def check_assignee(ledger: Ledger, unit: str, user: str) -> None:
    """A lead is handed to a person of the unit holding it who can sign in: an account that
    works, or a user of the users file. A name typed by mistake, a colleague of another unit
    or a disabled account would leave the lead with nobody responsible."""
    runtime = ledger.runtime
    account = runtime.accounts.account(user)
    if account is not None:
        known = not account.disabled and account.kind == "person" and account.unit == unit
    else:
        person = runtime.directory.person(user)
        known = person is not None and person.unit == unit
    if not known:
        raise RuleViolation(
            f"{user!r} is not a person of {unit} with a working account",
            f"{user} 不是承办单位 {unit} 的在岗人员（账户不存在、已停用或不属本单位）",
            field="assignee",
        )


def _check_handling_unit(ledger: Ledger, code: str) -> None:
    """Only a unit of the organisation that handles leads (not a village) takes one."""
    org = ledger.runtime.org
    unit = org.unit(code)
    if unit is None or unit.kind is UnitKind.VILLAGE:
        handling = ", ".join(
            f"{u.code} ({u.name})" for u in org.units if u.kind is not UnitKind.VILLAGE
        )
        raise RuleViolation(
            f"unknown unit {code!r}; one of {handling}",
            f"没有这个单位 {code!r}；可选：{handling}",
            field="to_unit",
        )
