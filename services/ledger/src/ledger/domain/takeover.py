"""提级办理: the county takes a town's lead over. The lead is handed to the county unit
(a transfer marked as a take-over) and accepted there at once: from then on the county
unit holds it, and the town reads it but cannot act on it (only the holder acts)."""

from __future__ import annotations

from common.errors import RuleViolation
from common.events import Actor
from common.events.catalogue import LeadTransferred, TransferAccepted
from ledger.domain.lead import LedgerLead


def take_over(
    lead: LedgerLead, county_unit: str, reason: str, actor: Actor
) -> tuple[LeadTransferred, TransferAccepted]:
    """The two events of a take-over by ``county_unit``, to be appended in order."""
    if lead.archived:
        raise RuleViolation(
            "the lead is archived: it cannot be taken over; reopen it first",
            "该线索已归档，不能提级办理；如需继续办理，请先重新启用",
        )
    if county_unit in (lead.holder, lead.pending_to):
        raise RuleViolation("the county already holds the lead", "该线索已由县级办理")
    if lead.pending_to is not None:
        raise RuleViolation(
            f"the lead is waiting for {lead.pending_to} to accept or return it; take it over"
            " after that",
            f"该线索正等待{lead.pending_to}接收或退回，请在其接收或退回后再提级办理",
        )
    transferred = LeadTransferred(
        lead_id=lead.lead_id,
        from_unit=lead.holder,
        to_unit=county_unit,
        reason=reason,
        taken_over=True,
        actor=actor,
        **lead.registered.caused(),
    )
    accepted = TransferAccepted(
        lead_id=lead.lead_id, unit=county_unit, actor=actor, **lead.registered.caused()
    )
    return transferred, accepted
