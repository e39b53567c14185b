"""The cases that open by themselves: on a report the committee watches (an official, an
umbrella), and on every lead the ledger transfers to the committee."""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.application import retry_on_conflict
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


async def on_transferred(ox: Oversight, event: Event) -> None:
    """Opens a case for every lead the ledger transfers to the discipline committee."""
    if not isinstance(event, LeadTransferred) or event.to_unit != ox.discipline.code:
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
