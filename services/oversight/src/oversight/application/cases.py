"""The cases that open by themselves: on a report the committee watches (an official, an
umbrella), and on every lead the ledger transfers to the committee; and the guards a case
sets by itself (the conflict-of-interest guard, ledger.domain.conflict).

A case is opened on a lead, not on a person: the person enters it when the committee holds
them to account (AccountabilityRecorded). When that person is someone who can be handed the
lead (the record names their account, of the unit it names), the case keeps them off the
lead with a ConflictGuardSet of its category (umbrella or accountability), and lifts it
(ConflictGuardLifted) when the case closes with its outcome. The guards are brought in line
with the case after each of those two decisions (:func:`align_guards`), from what the
streams hold, each change with an id derived from what caused it and appended against the
lead's last directive: run again, after a failure or at once by two replicas, it adds
nothing twice and never lifts a guard a member set by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from common.application import retry_on_conflict
from common.batched import PartlyFailed, ReactMany, each_lead
from common.events import Event
from common.events.catalogue import (
    AccountabilityRecorded,
    CaseOpened,
    DisciplineOutcome,
    LeadReported,
    LeadTransferred,
)
from common.subjects import Stream
from oversight.domain import cases as rules

if TYPE_CHECKING:
    from oversight.application.context import Oversight

log = structlog.get_logger(__name__)


class UnknownLead(Exception):
    """An event names a lead that intake never recorded."""


async def on_reported(ox: Oversight, event: Event) -> None:
    """Opens a case for a report the committee watches (an official, an umbrella)."""
    if not isinstance(event, LeadReported) or not rules.needs_case(event, ox.watched):
        return
    basis = (
        "flagged: " + ", ".join(f.value for f in event.flags)
        if event.flags
        else f"category {event.category.value}"
    )
    await _open(ox, event.lead_id, basis, rules.is_umbrella(event), event)


def reports_in_batches(ox: Oversight) -> ReactMany:
    """A delivery of reports decided as common.batched's ``each_lead`` decides it, but only
    the reports the committee watches go to it: every report comes by and about one in
    ten opens a case, and a task and a semaphore turn for each of the others cost more of
    oversight's CPU than deciding that it needs none."""
    decide = each_lead(ox.on_reported)

    async def many(events: Sequence[Event]) -> None:
        wanted = [
            index
            for index, event in enumerate(events)
            if isinstance(event, LeadReported) and rules.needs_case(event, ox.watched)
        ]
        if not wanted:
            return
        try:
            await decide([events[index] for index in wanted])
        except PartlyFailed as exc:
            # The batch's own positions, as common.batched acknowledges by them.
            raise PartlyFailed({wanted[i]: error for i, error in exc.failed.items()}) from None

    return many


async def on_transferred(ox: Oversight, event: Event) -> None:
    """Opens a case for every lead the ledger transfers to the discipline committee."""
    if not isinstance(event, LeadTransferred) or event.to_unit not in ox.committees:
        return
    reported = await ox.reported(event.lead_id)
    if reported is None:
        # The ledger files only what intake recorded: a transfer of a lead nobody
        # reported is a bug or a forgery. Retried, then parked for an operator.
        raise UnknownLead(f"lead {event.lead_id} was transferred but never reported")
    umbrella = rules.is_umbrella(reported)
    await _open(
        ox, event.lead_id, f"transferred by {event.from_unit}: {event.reason}", umbrella, event
    )


async def _open(ox: Oversight, lead_id: str, basis: str, umbrella: bool, cause: Event) -> None:
    # When the lead keeps changing the conflict goes back to the reactor unacknowledged:
    # tried again later, and parked after several tries.
    await retry_on_conflict(
        lambda: ox.decide(
            lead_id, lambda lead: rules.open_case(lead, basis, umbrella, ox.actor, cause)
        )
    )


def _account_in(ox: Oversight, person: str, unit: str) -> str | None:
    """The account the committee named, when it is a person of ``unit`` who can be handed
    work (an account that works, or a user of the users file); None for a name only."""
    runtime = ox.runtime
    account = runtime.accounts.account(person)
    if account is not None:
        usable = not account.disabled and account.kind == "person" and account.unit == unit
        return person if usable else None
    known = runtime.directory.person(person)
    return person if known is not None and known.unit == unit else None


async def align_guards(ox: Oversight, lead_id: str) -> list[Event]:
    """Set or lift the guards the lead's case calls for (see the module); the changes made."""
    return await retry_on_conflict(lambda: _align_once(ox, lead_id))


async def _align_once(ox: Oversight, lead_id: str) -> list[Event]:
    private, directives = await asyncio.gather(
        ox.runtime.store(Stream.OVERSIGHT).read_lead(lead_id),
        ox.runtime.store(Stream.DIRECTIVES).read_lead(lead_id),
    )
    case = next((e.event for e in private.events if isinstance(e.event, CaseOpened)), None)
    records = [e.event for e in private.events if isinstance(e.event, AccountabilityRecorded)]
    accounts = await asyncio.gather(
        *(asyncio.to_thread(_account_in, ox, r.person, r.unit) for r in records)
    )
    subjects = [(a, r) for a, r in zip(accounts, records, strict=True) if a is not None]
    closed = any(isinstance(e.event, DisciplineOutcome) for e in directives.events)
    # Set by the service, not the member who decided: the guard follows the case.
    changes = rules.case_guards(
        lead_id, case, subjects, closed, (e.event for e in directives.events), ox.actor
    )
    sequence = directives.last_sequence
    store = ox.runtime.store(Stream.DIRECTIVES)
    for change in changes:
        sequence = (await store.append(change, expected_sequence=sequence)).sequence
        log.info(
            "case_guard", lead_id=lead_id, event_type=change.event_type, event_id=change.event_id
        )
    return list(changes)
