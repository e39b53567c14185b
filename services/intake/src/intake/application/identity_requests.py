"""Identity access on request: a handler asks, another custodian decides, the requester
reads once. Every step is appended to the lead's log before anything is shown, so the
committee sees each (oversight projects them) and the reporter's receipt page tells of a
read. Log lines carry ids only, never a reason (it may say more than it should) and never
the identity.

Each step is open only to who may read the lead (common.visibility): a handler asks for
the reporter of a lead their unit holds, a custodian decides on their own town's leads
(the county's custodian on every town's). For anyone else the lead does not exist (404),
whatever the request."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from common.auth import Principal
from common.events import Event, Role, utc_now
from common.events.custody import IdentityAccessApproved, IdentityAccessRefused
from common.events.envelope import new_event_id
from intake.application.lead_access import check_may_read
from intake.commands import AskForIdentity, DecideOnIdentity, ReadIdentity
from intake.domain import custody as rules
from intake.domain import lead as decisions
from intake.vault import Identity

if TYPE_CHECKING:
    from intake.application.context import Intake

log = structlog.get_logger(__name__)


async def _history(
    intake: Intake, lead_id: str, principal: Principal
) -> tuple[decisions.IntakeLead, list[Event], int]:
    """The lead's history, for a principal who may read the lead (LeadNotFound else)."""
    history = await intake.store.read_lead(lead_id)
    events = [stored.event for stored in history.events]
    lead = decisions.fold(events)
    await check_may_read(intake, lead, principal)
    return lead, events, history.last_sequence


def _one(requests: dict[str, rules.AccessRequest], request_id: str) -> rules.AccessRequest:
    request = requests.get(request_id)
    if request is None:
        raise rules.RequestNotFound
    return request


async def ask(intake: Intake, command: AskForIdentity, principal: Principal) -> rules.AccessRequest:
    lead, _, sequence = await _history(intake, command.lead_id, principal)
    event = rules.ask(
        lead, new_event_id(), command.reason_category, command.reason, principal.actor
    )
    await intake.store.append(event, expected_sequence=sequence)
    log.info("identity_requested", lead_id=command.lead_id, request_id=event.request_id)
    return rules.requests_of([event])[event.request_id]


async def decide(
    intake: Intake, command: DecideOnIdentity, principal: Principal
) -> rules.AccessRequest:
    lead, events, sequence = await _history(intake, command.lead_id, principal)
    request = _one(rules.requests_of(events), command.request_id)
    decision: IdentityAccessApproved | IdentityAccessRefused
    if command.approve:
        decision = rules.approve(lead, request, principal.actor, utc_now(), command.valid_hours)
    else:
        decision = rules.refuse(lead, request, principal.actor, command.reason)
    # Decided on the history read: a second decision meanwhile makes this append fail.
    await intake.store.append(decision, expected_sequence=sequence)
    log.info(
        "identity_request_decided",
        lead_id=command.lead_id,
        request_id=command.request_id,
        decision=decision.event_type,
    )
    return rules.requests_of([*events, decision])[command.request_id]


async def read(intake: Intake, command: ReadIdentity, principal: Principal) -> Identity:
    lead, events, sequence = await _history(intake, command.lead_id, principal)
    request = _one(rules.requests_of(events), command.request_id)
    event = rules.read(lead, request, principal.actor, utc_now())
    async with intake.engine.connect() as conn:
        wrapped = await intake.vault.wrapped_key(conn, command.lead_id)
    identity = intake.vault.open(command.lead_id, lead.ciphertext or "", wrapped)
    # Recorded before it is shown, on the history the use was counted on: of two reads at
    # once, one is appended and the other refused, so "once" holds.
    await intake.store.append(event, expected_sequence=sequence)
    log.warning(
        "identity_disclosed",
        lead_id=command.lead_id,
        request_id=command.request_id,
        event_id=event.event_id,
    )
    return identity


async def listed(intake: Intake, lead_id: str, principal: Principal) -> list[rules.AccessRequest]:
    """A lead's requests: every one for a custodian, only their own for anyone else."""
    _, events, _ = await _history(intake, lead_id, principal)
    actor = principal.actor
    return [
        r
        for r in rules.requests_of(events).values()
        if actor.role is Role.CUSTODIAN or r.asked_by(actor)
    ]
