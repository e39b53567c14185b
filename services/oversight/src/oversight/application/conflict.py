"""The committee's part in the conflict-of-interest guard, for the API and the desk alike:
keeping a person off a lead (the ledger is told the category, never the case), lifting it,
deciding on the office's requests for an override, and the overrides as the leak-risk report
lists them (requested, decided, used). Read from the streams themselves: overrides are rare,
each one a decision of the committee's.

In a county of several towns, a town's committee and auditor act on and read their own
town's leads alone (oversight.application.towns): a guard or a decision on another town's
lead is refused as one on a lead there is not, before anything else is read, and the guards
and overrides shown are their town's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal

from common.auth import Principal
from common.errors import NotFound, RuleViolation
from common.events import Event
from common.events.catalogue import ResponsibilityAssigned
from common.events.conflict import (
    ConflictGuardLifted,
    ConflictGuardSet,
    ConflictOverrideApproved,
    ConflictOverrideRefused,
    ConflictOverrideRequested,
    GuardReason,
)
from common.service import ServiceRuntime
from common.subjects import Stream, check_token

if TYPE_CHECKING:
    from oversight.application.context import Oversight

# The report shows the newest requests.
MOST_SHOWN: Final = 200


@dataclass(frozen=True)
class Override:
    """The office's request for an override, and what became of it."""

    lead_id: str
    account: str
    requested_at: datetime
    requested_by: str | None
    reason: str
    grounds: tuple[str, ...]
    decision: Literal["approved", "refused"] | None
    decided_at: datetime | None
    decided_by: str | None
    note: str
    used_at: datetime | None


@dataclass(frozen=True)
class Guard:
    """A person the committee keeps off a lead, standing now."""

    lead_id: str
    account: str
    reason: GuardReason
    set_at: datetime
    set_by: str | None


async def _events(runtime: ServiceRuntime, stream: Stream, subject: str) -> list[Event]:
    history = await runtime.store(stream).read_subject(subject)
    return [e.event for e in history.events]


async def _append(runtime: ServiceRuntime, event: Event) -> Event:
    await runtime.store(Stream.DIRECTIVES).append(event)
    return event


async def _visible(ox: Oversight, principal: Principal, lead_id: str) -> None:
    """Refuses a lead of another town's exactly as one that does not exist."""
    if not await ox.sees_lead(lead_id, principal):
        raise NotFound("no such lead")


async def set_guard(
    ox: Oversight, principal: Principal, lead_id: str, account: str, reason: GuardReason
) -> Event:
    await _visible(ox, principal, lead_id)
    return await _append(
        ox.runtime,
        ConflictGuardSet(lead_id=lead_id, account=account, reason=reason, actor=principal.actor),
    )


async def lift_guard(ox: Oversight, principal: Principal, lead_id: str, account: str) -> Event:
    await _visible(ox, principal, lead_id)
    return await _append(
        ox.runtime, ConflictGuardLifted(lead_id=lead_id, account=account, actor=principal.actor)
    )


async def decide(
    ox: Oversight,
    principal: Principal,
    lead_id: str,
    account: str,
    approve: bool,
    note: str,
) -> Event:
    """The committee's answer to the office's request: refused when the office asked none
    for this person on this lead."""
    await _visible(ox, principal, lead_id)
    runtime = ox.runtime
    asked = await _events(
        runtime, Stream.LEDGER, f"ledger.lead.{check_token(lead_id)}.ConflictOverrideRequested"
    )
    if not any(isinstance(e, ConflictOverrideRequested) and e.account == account for e in asked):
        raise RuleViolation(
            "the office asked for no override for this person on this lead",
            "扫黑办未就该人员和线索报批",
            field="account",
        )
    kind = ConflictOverrideApproved if approve else ConflictOverrideRefused
    return await _append(
        runtime, kind(lead_id=lead_id, account=account, note=note, actor=principal.actor)
    )


async def overrides(ox: Oversight, principal: Principal) -> list[Override]:
    """Every request for an override on a lead of the principal's towns, newest first (the
    newest ``MOST_SHOWN``), with the committee's last decision after it and the hand-over
    that used it."""
    runtime = ox.runtime
    asked = [
        e
        for e in await _events(runtime, Stream.LEDGER, "ledger.lead.*.ConflictOverrideRequested")
        if isinstance(e, ConflictOverrideRequested)
    ]
    # Visibility first: the newest shown are the newest of the principal's towns.
    seen = await ox.leads_seen({e.lead_id for e in asked}, principal)
    asked = [e for e in asked if e.lead_id in seen]
    shown: list[Override] = []
    # The committee's decisions on every lead in two reads (they are rare); the hand-overs
    # read only on the leads where one was approved.
    decided: dict[tuple[str, str], list[ConflictOverrideApproved | ConflictOverrideRefused]] = {}
    for kind in ("ConflictOverrideApproved", "ConflictOverrideRefused"):
        for e in await _events(runtime, Stream.DIRECTIVES, f"directive.lead.*.{kind}"):
            if isinstance(e, ConflictOverrideApproved | ConflictOverrideRefused):
                decided.setdefault((e.lead_id, e.account), []).append(e)
    for ask in reversed(asked[-MOST_SHOWN:]):
        lead = check_token(ask.lead_id)
        decisions = sorted(
            (
                e
                for e in decided.get((ask.lead_id, ask.account), [])
                if e.occurred_at >= ask.occurred_at
            ),
            key=lambda e: e.occurred_at,
        )
        last = decisions[-1] if decisions else None
        approved = any(isinstance(e, ConflictOverrideApproved) for e in decisions)
        used = [
            e
            for e in (
                await _events(runtime, Stream.LEDGER, f"ledger.lead.{lead}.ResponsibilityAssigned")
                if approved
                else []
            )
            if isinstance(e, ResponsibilityAssigned)
            and e.conflict_override
            and e.assignee == ask.account
            and e.occurred_at >= ask.occurred_at
        ]
        shown.append(
            Override(
                lead_id=ask.lead_id,
                account=ask.account,
                requested_at=ask.occurred_at,
                requested_by=ask.actor.user,
                reason=ask.reason,
                grounds=tuple(ask.grounds),
                decision=None
                if last is None
                else ("approved" if isinstance(last, ConflictOverrideApproved) else "refused"),
                decided_at=last.occurred_at if last else None,
                decided_by=last.actor.user if last else None,
                note=last.note if last else "",
                used_at=used[0].occurred_at if used else None,
            )
        )
    return shown


async def guards(ox: Oversight, principal: Principal) -> list[Guard]:
    """The guards standing now (set and not lifted since) on leads of the principal's
    towns, newest first."""
    standing: dict[tuple[str, str], Guard] = {}
    store = ox.runtime.store(Stream.DIRECTIVES)
    changes = [
        *(await store.read_subject("directive.lead.*.ConflictGuardSet")).events,
        *(await store.read_subject("directive.lead.*.ConflictGuardLifted")).events,
    ]
    # In the stream's order: a guard lifted and set again in one instant stands.
    for stored in sorted(changes, key=lambda s: s.sequence):
        event = stored.event
        if isinstance(event, ConflictGuardSet):
            standing[(event.lead_id, event.account)] = Guard(
                event.lead_id, event.account, event.reason, event.occurred_at, event.actor.user
            )
        elif isinstance(event, ConflictGuardLifted):
            standing.pop((event.lead_id, event.account), None)
    seen = await ox.leads_seen({lead for lead, _ in standing}, principal)
    return sorted(
        (g for g in standing.values() if g.lead_id in seen), key=lambda g: g.set_at, reverse=True
    )
