"""The discipline committee's outcome, as the ledger records it.

Oversight sends the outcome of a lead transferred to it as a directive (its category
only). The ledger turns it into the lead's own LeadConcluded, appended with the lead's
expected sequence, so the lead's result sits in order among its other events — whatever
order the two streams are read in later."""

from __future__ import annotations

from common.application import retry_on_conflict
from common.events import Actor, Event, Role
from common.events.catalogue import DisciplineOutcome
from common.organisation import UnitKind
from common.service import ServiceRuntime
from common.subjects import Stream
from ledger.application import Ledger
from ledger.domain import lead as rules


class OutcomeRecorder:
    def __init__(self, runtime: ServiceRuntime, ledger: Ledger) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.committee = runtime.org.the(UnitKind.DISCIPLINE).code

    async def __call__(self, event: Event) -> None:
        """Records the committee's outcome as the lead's result."""
        if not isinstance(event, DisciplineOutcome):
            return
        await retry_on_conflict(lambda: self._record(event))

    async def _record(self, outcome: DisciplineOutcome) -> None:
        actor = Actor(role=Role.DISCIPLINE, unit=self.committee)
        lead, sequence = await self.ledger.load(outcome.lead_id)
        concluded = rules.record_discipline_outcome(lead, outcome.result, self.committee, actor)
        if concluded is None:
            return
        concluded = concluded.model_copy(update=outcome.caused())
        # A lead that changed meanwhile is decided on again, on its new events.
        await self.runtime.store(Stream.LEDGER).append(concluded, expected_sequence=sequence)
