"""提级办理: the county office takes a town's lead over (see ledger.domain.takeover).

Only an office of the county's own (a unit of kind county) takes a lead over. Whether it
may see the lead is asked first, as for every command: a lead it may not see answers 404
before anything else is said."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from common.auth import Principal
from common.errors import NotPermitted
from common.events import Role
from common.subjects import Stream
from ledger.application.handling import Recorded
from ledger.application.reading import visible
from ledger.domain.lead import evolve
from ledger.domain.takeover import take_over as take_over_rule

if TYPE_CHECKING:
    from ledger.application.context import Ledger

log = structlog.get_logger(__name__)


async def take_over(ledger: Ledger, lead_id: str, reason: str, principal: Principal) -> Recorded:
    await visible(ledger, lead_id, principal)
    unit = principal.unit
    if (
        principal.role is not Role.OFFICE
        or unit is None
        or not ledger.runtime.org.is_county_level(unit)
    ):
        raise NotPermitted("only the county office takes a lead over (提级办理)")
    lead, sequence = await ledger.load(lead_id)
    transferred, accepted = take_over_rule(lead, unit, reason, principal.actor)
    store = ledger.runtime.store(Stream.LEDGER)
    # The acceptance expects the take-over right before it: the county holds the lead
    # from then on. Were anything to come between, the lead waits for the county to
    # accept it, as any transfer does.
    handed = await store.append(transferred, expected_sequence=sequence)
    await store.append(accepted, expected_sequence=handed.sequence)
    log.info(
        "lead_taken_over",
        lead_id=lead_id,
        from_unit=transferred.from_unit,
        to_unit=unit,
        correlation_id=transferred.correlation_id,
    )
    return Recorded(event=transferred, lead=evolve(evolve(lead, transferred), accepted))
