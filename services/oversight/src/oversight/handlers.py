"""Oversight's command handlers and automatic rules: decide on the lead's oversight events,
append to OVERSIGHT (private) or DIRECTIVES (what the handling units must act on)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import structlog

from common.auth import Principal
from common.events import Actor, Event, Role, utc_now
from common.events.catalogue import LeadReported, LeadTransferred, LeadViewed
from common.eventstore import ConcurrencyConflict
from common.organisation import UnitKind
from common.service import ServiceRuntime
from common.subjects import Stream
from oversight.domain import cases as rules
from oversight.domain.cases import OversightLead
from oversight.projection import queries
from oversight.settings import OversightSettings

log = structlog.get_logger(__name__)
RULES = Actor(role=Role.SYSTEM, user="oversight-rules")


class UnknownLead(Exception):
    """An event names a lead that intake never recorded."""


class Oversight:
    def __init__(self, runtime: ServiceRuntime, settings: OversightSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.discipline = runtime.org.the(UnitKind.DISCIPLINE)
        self.county = runtime.org.the(UnitKind.COUNTY)
        self.actor = Actor(role=Role.SYSTEM, unit=self.discipline.code, user="oversight")

    async def load(self, lead_id: str) -> tuple[OversightLead, int, int]:
        """The lead as oversight's events make it, and the sequences a write to OVERSIGHT
        and to DIRECTIVES must expect."""
        history = await self.runtime.store(Stream.OVERSIGHT).read_lead(lead_id)
        directives = await self.runtime.store(Stream.DIRECTIVES).read_lead(lead_id)
        events = sorted(
            (e.event for e in (*history.events, *directives.events)), key=lambda e: e.occurred_at
        )
        return rules.fold(lead_id, events), history.last_sequence, directives.last_sequence

    async def decide(
        self, lead_id: str, decide: Callable[[OversightLead], Event | None]
    ) -> Event | None:
        lead, sequence, directive_sequence = await self.load(lead_id)
        event = decide(lead)
        if event is None:
            return None
        if event.prefix == "directive":
            await self.runtime.store(Stream.DIRECTIVES).append(
                event, expected_sequence=directive_sequence
            )
        else:
            await self.runtime.store(Stream.OVERSIGHT).append(event, expected_sequence=sequence)
        log.info(
            "oversight_event", lead_id=lead_id, event_type=event.event_type, event_id=event.event_id
        )
        return event

    async def viewed(self, lead_id: str, principal: Principal, purpose: str) -> None:
        # Oversight's own reads are recorded like everyone else's.
        await self.runtime.record_access(
            LeadViewed(lead_id=lead_id, service="oversight", purpose=purpose, actor=principal.actor)
        )

    async def ledger_transfers(self, lead_id: str) -> list[LeadTransferred]:
        history = await self.runtime.store(Stream.LEDGER).read_lead(lead_id)
        return [e.event for e in history.events if isinstance(e.event, LeadTransferred)]

    # --- cases open by themselves --------------------------------------------------

    async def on_reported(self, event: Event) -> None:
        """Opens a case for a lead flagged as involving an official or an umbrella."""
        if not isinstance(event, LeadReported) or not rules.needs_case(event):
            return
        basis = (
            "flagged: " + ", ".join(f.value for f in event.flags)
            if event.flags
            else f"category {event.category.value}"
        )
        await self._open(event.lead_id, basis, rules.is_umbrella(event), event)

    async def on_transferred(self, event: Event) -> None:
        """Opens a case for every lead the ledger transfers to the discipline committee."""
        if not isinstance(event, LeadTransferred) or event.to_unit != self.discipline.code:
            return
        reported = await self.reported(event.lead_id)
        if reported is None:
            # The ledger files only what intake recorded: a transfer of a lead nobody
            # reported is a bug or a forgery. Retried, then parked for an operator.
            raise UnknownLead(f"lead {event.lead_id} was transferred but never reported")
        umbrella = rules.is_umbrella(reported)
        await self._open(
            event.lead_id, f"transferred by {event.from_unit}: {event.reason}", umbrella, event
        )

    async def reported(self, lead_id: str) -> LeadReported | None:
        """The lead's report, read from intake's stream (None if it was never reported)."""
        history = await self.runtime.store(Stream.INTAKE).read_lead(lead_id)
        return next((e.event for e in history.events if isinstance(e.event, LeadReported)), None)

    async def _open(self, lead_id: str, basis: str, umbrella: bool, cause: Event) -> None:
        for _ in range(5):
            try:
                await self.decide(
                    lead_id, lambda lead: rules.open_case(lead, basis, umbrella, self.actor, cause)
                )
                return
            except ConcurrencyConflict:
                continue  # something else happened on the lead: look again
        # Not acknowledged: the reactor retries later, and parks it after several tries.
        raise RuntimeError(f"could not open a case on lead {lead_id}: the lead keeps changing")

    # --- automatic supervision -----------------------------------------------------

    async def apply_rules(self) -> int:
        """Open supervision by itself, once per lead and rule: overdue by X days, N reports
        on the same matter, or open longer than the limit."""
        now = utc_now()
        async with self.runtime.database.async_engine.connect() as conn:
            due = await queries.rule_candidates(
                conn,
                now,
                overdue=timedelta(days=self.settings.overdue_days),
                same_matter=self.settings.same_matter_reports,
                open_for=timedelta(days=self.settings.open_days),
            )
        opened = 0
        for lead_id, rule, reason in due:

            def decide(lead: OversightLead, rule: str = rule, reason: str = reason) -> Event | None:
                if rule in lead.rules_fired:
                    return None
                return rules.supervise(lead, reason, RULES, rule=rule)

            try:
                event = await self.decide(lead_id, decide)
            except ConcurrencyConflict:
                continue
            if event is not None:
                opened += 1
        return opened
