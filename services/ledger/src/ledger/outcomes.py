"""The discipline committee's outcome, as the ledger records it.

Oversight sends the outcome of a lead transferred to it as a directive (its category
only). The ledger turns it into the lead's own LeadConcluded, appended with the lead's
expected sequence, so the lead's result sits in order among its other events — whatever
order the two streams are read in later."""

from __future__ import annotations

from common.events import Actor, Event, Role
from common.events.catalogue import DisciplineOutcome
from common.eventstore import ConcurrencyConflict
from common.organisation import UnitKind
from common.service import ServiceRuntime
from common.subjects import Stream
from ledger.domain import lead as rules
from ledger.handlers import Ledger


class OutcomeRecorder:
    def __init__(self, runtime: ServiceRuntime, ledger: Ledger) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.committee = runtime.org.the(UnitKind.DISCIPLINE).code

    async def __call__(self, event: Event) -> None:
        """Records the committee's outcome as the lead's result."""
        if not isinstance(event, DisciplineOutcome):
            return
        actor = Actor(role=Role.DISCIPLINE, unit=self.committee)
        for _ in range(5):
            lead, sequence = await self.ledger.load(event.lead_id)
            concluded = rules.record_discipline_outcome(lead, event.result, self.committee, actor)
            if concluded is None:
                return
            concluded = concluded.model_copy(update=event.caused())
            try:
                await self.runtime.store(Stream.LEDGER).append(
                    concluded, expected_sequence=sequence
                )
                return
            except ConcurrencyConflict:
                continue  # the lead changed meanwhile: decide again on its new events
        raise RuntimeError(f"could not record the outcome of lead {event.lead_id}")
