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
        # Every town's committee: the one holding the lead records its outcome.
        self.committees = frozenset(u.code for u in runtime.org.of_kind(UnitKind.DISCIPLINE))

    async def __call__(self, event: Event) -> None:
        """Records the committee's outcome as the lead's result."""
        if not isinstance(event, DisciplineOutcome):
            return
        await retry_on_conflict(lambda: self._record(event))

    async def _record(self, outcome: DisciplineOutcome) -> None:
        lead, sequence = await self.ledger.load(outcome.lead_id)
        committee = next((u for u in (lead.holder, lead.pending_to) if u in self.committees), None)
        if committee is None:
            return
        actor = Actor(role=Role.DISCIPLINE, unit=committee)
        concluded = rules.record_discipline_outcome(lead, outcome.result, committee, actor)
        if concluded is None:
            return
        concluded = concluded.model_copy(update=outcome.caused())
        # A lead that changed meanwhile is decided on again, on its new events.
        await self.runtime.store(Stream.LEDGER).append(concluded, expected_sequence=sequence)
