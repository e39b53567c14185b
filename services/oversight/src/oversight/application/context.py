"""The committee's context: load a lead's oversight events, decide with the domain's rules,
append to OVERSIGHT, which stays private, or to DIRECTIVES, which the handling units act
on; and one entry point per command, job or read, each a call into the module that holds
it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, TypeVar

import structlog

from common.auth import Principal
from common.batched import ReactMany
from common.errors import NotFound
from common.events import Actor, Event, Role
from common.events.catalogue import LeadReported, LeadTransferred, LeadViewed
from common.organisation import UnitKind
from common.service import ServiceRuntime
from common.subjects import Stream
from oversight import reports
from oversight.application import cases, decisions, reads, supervision
from oversight.application.towns import towns_seen
from oversight.commands import Command
from oversight.domain import cases as rules
from oversight.domain.assessment import Assessment
from oversight.domain.cases import OversightLead
from oversight.projection import queries
from oversight.settings import OversightSettings

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event | None)


class Oversight:
    def __init__(self, runtime: ServiceRuntime, settings: OversightSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.watched = settings.committee_rule
        org = runtime.org
        self.county = org.the(UnitKind.COUNTY)
        # Every town's committee takes the leads its town's ledger hands it; oversight's
        # own events come from the one committee of a county of one town, else from the
        # county.
        committees = org.of_kind(UnitKind.DISCIPLINE)
        self.committees = frozenset(unit.code for unit in committees)
        self.discipline = committees[0] if len(committees) == 1 else self.county
        self.actor = Actor(role=Role.SYSTEM, unit=self.discipline.code, user="oversight")

    def committee_for(self, unit: str | None) -> str:
        """The committee of the town ``unit`` belongs to (the county's own committee, for
        a unit of no town: :attr:`discipline`)."""
        if unit in self.committees:
            return unit or ""
        town = self.runtime.org.town_of(unit)
        found = town.of_kind(UnitKind.DISCIPLINE) if town is not None else ()
        return found[0].code if len(found) == 1 else self.discipline.code

    async def execute(self, command: Command, principal: Principal) -> Event:
        """Decide ``command`` for ``principal`` and record it; the event recorded."""
        handler: decisions.Handler = decisions.HANDLERS[type(command)]
        return await handler(self, command, principal)

    # --- the plumbing every decision shares ----------------------------------------

    async def load(self, lead_id: str) -> tuple[OversightLead, int, int]:
        """The lead as oversight's events make it, and the sequences a write to OVERSIGHT
        and to DIRECTIVES must expect."""
        # Two streams, read at once: a case opened on a report waits for both.
        history, directives = await asyncio.gather(
            self.runtime.store(Stream.OVERSIGHT).read_lead(lead_id),
            self.runtime.store(Stream.DIRECTIVES).read_lead(lead_id),
        )
        events = sorted(
            (e.event for e in (*history.events, *directives.events)), key=lambda e: e.occurred_at
        )
        return rules.fold(lead_id, events), history.last_sequence, directives.last_sequence

    async def decide(self, lead_id: str, decide: Callable[[OversightLead], E]) -> E:
        """Load, decide, append: what ``decide`` returns is recorded (None records nothing)."""
        lead, sequence, directive_sequence = await self.load(lead_id)
        event = decide(lead)
        if event is None:
            return event
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

    async def lead_of(self, case_id: str, principal: Principal) -> str:
        """The lead a case is about (404 when there is no such case, or it is another
        town's than the principal's)."""
        towns = towns_seen(self.runtime.org, principal)
        async with self.runtime.database.async_engine.connect() as conn:
            found = await queries.case_row(conn, case_id, towns)
        if found is None:
            raise NotFound("no such case")
        return str(found["lead_id"])

    async def sees_lead(self, lead_id: str, principal: Principal) -> bool:
        """Whether the lead is one of the principal's towns' (always, for every town's)."""
        towns = towns_seen(self.runtime.org, principal)
        if towns.every:
            return True
        async with self.runtime.database.async_engine.connect() as conn:
            return await queries.lead_seen(conn, lead_id, towns)

    async def leads_seen(self, lead_ids: Collection[str], principal: Principal) -> set[str]:
        """Those of ``lead_ids`` that are the principal's towns' (all, for every town's)."""
        towns = towns_seen(self.runtime.org, principal)
        if towns.every:
            return set(lead_ids)
        async with self.runtime.database.async_engine.connect() as conn:
            return await queries.leads_seen(conn, lead_ids, towns)

    async def holder(self, lead_id: str) -> str | None:
        """The unit holding the lead, as oversight's projection of the ledger last saw it
        (None while the lead is not filed)."""
        async with self.runtime.database.async_engine.connect() as conn:
            return await queries.holder(conn, lead_id)

    async def reported(self, lead_id: str) -> LeadReported | None:
        """The lead's report, read from intake's stream (None if it was never reported)."""
        history = await self.runtime.store(Stream.INTAKE).read_lead(lead_id)
        return next((e.event for e in history.events if isinstance(e.event, LeadReported)), None)

    async def ledger_transfers(self, lead_id: str) -> list[LeadTransferred]:
        history = await self.runtime.store(Stream.LEDGER).read_lead(lead_id)
        return [e.event for e in history.events if isinstance(e.event, LeadTransferred)]

    # --- cases open by themselves --------------------------------------------------

    async def on_reported(self, event: Event) -> None:
        await cases.on_reported(self, event)

    def reports_in_batches(self) -> ReactMany:
        return cases.reports_in_batches(self)

    async def on_transferred(self, event: Event) -> None:
        await cases.on_transferred(self, event)

    # --- automatic supervision -----------------------------------------------------

    async def apply_rules(self) -> int:
        return await supervision.apply_rules(self)

    async def send_owed_notices(self) -> int:
        return await supervision.send_owed_notices(self)

    # --- what the committee reads --------------------------------------------------

    async def cases(self, principal: Principal, status: str | None) -> list[dict[str, Any]]:
        return await reads.cases(self, principal, status)

    async def case(self, case_id: str, principal: Principal, purpose: str) -> dict[str, Any]:
        return await reads.case(self, case_id, principal, purpose)

    async def supervisions(
        self,
        principal: Principal,
        *,
        rule: str | None = None,
        unit: str | None = None,
        since: datetime | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> tuple[int, list[dict[str, Any]]]:
        return await reads.supervisions(
            self, principal, rule=rule, unit=unit, since=since, page=page, page_size=page_size
        )

    async def responsibility_trace(
        self, lead_id: str, principal: Principal
    ) -> list[queries.Period]:
        return await reads.responsibility_trace(self, lead_id, principal)

    async def access_log(
        self, principal: Principal, lead_id: str | None, outsiders_only: bool
    ) -> list[dict[str, Any]]:
        return await reads.access_log(self, principal, lead_id, outsiders_only)

    async def leak_risk(self, principal: Principal, hours: float | None) -> list[dict[str, Any]]:
        return await reads.leak_risk(self, principal, hours)

    async def assessments(self, principal: Principal) -> list[Assessment]:
        return await reads.assessments(self, principal)

    async def assessments_by_town(self, principal: Principal) -> list[Assessment]:
        return await reads.assessments_by_town(self, principal)

    async def assessment_spreadsheet(
        self, principal: Principal, lang: str, town: str | None = None
    ) -> reports.Spreadsheet:
        return await reads.assessment_spreadsheet(self, principal, lang, town)
