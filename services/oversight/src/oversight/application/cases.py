"""The cases that open by themselves: on a report the committee watches (an official, an
umbrella), and on every lead the ledger transfers to the committee."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from common.application import retry_on_conflict
from common.batched import PartlyFailed, ReactMany, each_lead
from common.events import Event
from common.events.catalogue import LeadReported, LeadTransferred
from oversight.domain import cases as rules

if TYPE_CHECKING:
    from oversight.application.context import Oversight


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
