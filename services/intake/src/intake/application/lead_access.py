"""Whether a principal may read a lead, decided in intake by the suite's one rule
(common.visibility) on what intake knows of the lead: its report (read from the log, so a
lead not yet in the read model is still judged) and what the ledger decided of it (filed,
where, handed to whom), folded into the read model from the ledger's events.

The read model lags the ledger by a moment: a transfer not folded in yet leaves the unit
it went to without the lead for that moment, never someone with it who should not be."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from common.auth import Principal
from common.visibility import LeadFacts, may_read, units_of
from intake.domain.lead import IntakeLead, LeadNotFound
from intake.projection.tables import reports

if TYPE_CHECKING:
    from intake.application.context import Intake


async def facts_of(intake: Intake, lead: IntakeLead) -> LeadFacts:
    reported = lead.reported
    async with intake.engine.connect() as conn:
        row = (
            await conn.execute(
                select(
                    reports.c.ledger_number,
                    reports.c.filed_village,
                    reports.c.for_committee,
                    reports.c.units,
                ).where(reports.c.lead_id == reported.lead_id)
            )
        ).first()
    if row is None or row.ledger_number is None:
        return LeadFacts(village=reported.village, entered_by=reported.actor.unit)
    return LeadFacts(
        ledger_number=row.ledger_number,
        village=row.filed_village,
        units=units_of(row.units),
        for_committee=bool(row.for_committee),
        entered_by=reported.actor.unit,
    )


async def check_may_read(intake: Intake, lead: IntakeLead, principal: Principal) -> None:
    """LeadNotFound, exactly as for a lead that does not exist, unless the principal may
    read the lead."""
    facts = await facts_of(intake, lead)
    if not may_read(intake.org, principal.role, principal.unit, facts):
        raise LeadNotFound
