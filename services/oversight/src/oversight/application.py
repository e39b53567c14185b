"""Oversight's application layer: the committee's context (load a lead's oversight events,
decide with the domain's rules, append to OVERSIGHT, which stays private, or to DIRECTIVES,
which the handling units act on), one handler per command, the cases that open by
themselves, the automatic supervision rules, and the committee's reads (each read of a
lead is recorded like anyone else's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import structlog

from common.application import for_each_due, retry_on_conflict
from common.auth import Principal
from common.errors import NotFound, RuleViolation
from common.events import Actor, Event, Role, utc_now
from common.events.catalogue import LeadReported, LeadTransferred, LeadViewed
from common.organisation import UnitKind
from common.service import ServiceRuntime
from common.subjects import Stream
from oversight import reports
from oversight.commands import (
    Command,
    Escalate,
    LinkUmbrella,
    ListSupervision,
    RecordAccountability,
    RecordOutcome,
    Supervise,
)
from oversight.domain import cases as rules
from oversight.domain.cases import OversightLead
from oversight.projection import queries
from oversight.settings import OversightSettings

log = structlog.get_logger(__name__)
RULES = Actor(role=Role.SYSTEM, user="oversight-rules")

E = TypeVar("E", bound=Event | None)


class UnknownLead(Exception):
    """An event names a lead that intake never recorded."""


class Oversight:
    def __init__(self, runtime: ServiceRuntime, settings: OversightSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.watched = settings.committee_rule
        self.discipline = runtime.org.the(UnitKind.DISCIPLINE)
        self.county = runtime.org.the(UnitKind.COUNTY)
        self.actor = Actor(role=Role.SYSTEM, unit=self.discipline.code, user="oversight")

    async def execute(self, command: Command, principal: Principal) -> Event:
        """Decide ``command`` for ``principal`` and record it; the event recorded."""
        handler: Handler = HANDLERS[type(command)]
        return await handler(self, command, principal)

    # --- the plumbing every decision shares ----------------------------------------

    async def load(self, lead_id: str) -> tuple[OversightLead, int, int]:
        """The lead as oversight's events make it, and the sequences a write to OVERSIGHT
        and to DIRECTIVES must expect."""
        history = await self.runtime.store(Stream.OVERSIGHT).read_lead(lead_id)
        directives = await self.runtime.store(Stream.DIRECTIVES).read_lead(lead_id)
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

    async def lead_of(self, case_id: str) -> str:
        """The lead a case is about (404 when there is no such case)."""
        async with self.runtime.database.async_engine.connect() as conn:
            found = await queries.case(conn, case_id)
        if found is None:
            raise NotFound("no such case")
        return str(found["lead_id"])

    async def reported(self, lead_id: str) -> LeadReported | None:
        """The lead's report, read from intake's stream (None if it was never reported)."""
        history = await self.runtime.store(Stream.INTAKE).read_lead(lead_id)
        return next((e.event for e in history.events if isinstance(e.event, LeadReported)), None)

    async def ledger_transfers(self, lead_id: str) -> list[LeadTransferred]:
        history = await self.runtime.store(Stream.LEDGER).read_lead(lead_id)
        return [e.event for e in history.events if isinstance(e.event, LeadTransferred)]

    # --- cases open by themselves --------------------------------------------------

    async def on_reported(self, event: Event) -> None:
        """Opens a case for a report the committee watches (an official, an umbrella)."""
        if not isinstance(event, LeadReported) or not rules.needs_case(event, self.watched):
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

    async def _open(self, lead_id: str, basis: str, umbrella: bool, cause: Event) -> None:
        # When the lead keeps changing the conflict goes back to the reactor unacknowledged:
        # tried again later, and parked after several tries.
        await retry_on_conflict(
            lambda: self.decide(
                lead_id, lambda lead: rules.open_case(lead, basis, umbrella, self.actor, cause)
            )
        )

    # --- automatic supervision -----------------------------------------------------

    async def apply_rules(self) -> int:
        """Open supervision by itself, once per lead and rule: overdue by X days, N reports
        on the same matter, or open longer than the limit. Returns how many it opened."""
        async with self.runtime.database.async_engine.connect() as conn:
            due = await queries.rule_candidates(
                conn,
                utc_now(),
                overdue=timedelta(days=self.settings.overdue_days),
                same_matter=self.settings.same_matter_reports,
                open_for=timedelta(days=self.settings.open_days),
            )

        async def fire(candidate: tuple[str, str, str]) -> bool:
            lead_id, rule, reason = candidate

            def decide(lead: OversightLead) -> Event | None:
                if rule in lead.rules_fired:
                    return None
                return rules.supervise(lead, reason, RULES, rule=rule)

            return await self.decide(lead_id, decide) is not None

        return await for_each_due(due, fire, job="supervision-rules")

    # --- what the committee reads --------------------------------------------------

    async def cases(self, status: str | None) -> list[dict[str, Any]]:
        async with self.runtime.database.async_engine.connect() as conn:
            return await queries.case_list(conn, status)

    async def case(self, case_id: str, principal: Principal, purpose: str) -> dict[str, Any]:
        async with self.runtime.database.async_engine.connect() as conn:
            found = await queries.case(conn, case_id)
        if found is None:
            raise NotFound("no such case")
        await self.viewed(found["lead_id"], principal, purpose)
        return found

    async def responsibility_trace(
        self, lead_id: str, principal: Principal
    ) -> list[queries.Period]:
        async with self.runtime.database.async_engine.connect() as conn:
            periods = await queries.responsibility_trace(conn, lead_id)
        if not periods:
            raise NotFound("no custody is known for this lead")
        await self.viewed(lead_id, principal, "responsibility trace")
        return periods

    async def access_log(self, lead_id: str | None, outsiders_only: bool) -> list[dict[str, Any]]:
        async with self.runtime.database.async_engine.connect() as conn:
            return await queries.access_log(conn, lead_id, outsiders_only)

    async def leak_risk(self, hours: float | None) -> list[dict[str, Any]]:
        """Outsiders' reads within ``hours`` (the configured window if not given) before a
        key moment."""
        window = timedelta(hours=hours or self.settings.leak_window_hours)
        async with self.runtime.database.async_engine.connect() as conn:
            return await queries.leak_risk(conn, window)

    async def assessments(self) -> list[queries.Assessment]:
        async with self.runtime.database.async_engine.connect() as conn:
            return await queries.assessments(conn)

    async def assessment_spreadsheet(self, lang: str) -> reports.Spreadsheet:
        return reports.assessment_spreadsheet(
            await self.assessments(), self.runtime.org, lang, utc_now()
        )


# --- the commands ------------------------------------------------------------------


def _as_unit(principal: Principal) -> Actor:
    # What leaves oversight as a directive names the committee, not the officer.
    return Actor(role=principal.role, unit=principal.unit)


async def supervise(ox: Oversight, command: Supervise, principal: Principal) -> Event:
    lead_id = await ox.lead_of(command.case_id)
    return await ox.decide(
        lead_id, lambda lead: rules.supervise(lead, command.reason, principal.actor)
    )


async def list_supervision(ox: Oversight, command: ListSupervision, principal: Principal) -> Event:
    unit = ox.runtime.org.unit(command.unit)
    if unit is None or unit.kind is UnitKind.VILLAGE:
        raise RuleViolation(
            f"{command.unit!r} is not a handling unit of the township",
            f"{command.unit} 不是本镇的承办单位",
            field="unit",
        )
    lead_id = await ox.lead_of(command.case_id)
    now = utc_now()
    return await ox.decide(
        lead_id,
        lambda lead: rules.list_supervision(
            lead, command.unit, command.deadline, command.level, _as_unit(principal), now
        ),
    )


async def escalate(ox: Oversight, command: Escalate, principal: Principal) -> Event:
    lead_id = await ox.lead_of(command.case_id)
    county = ox.county.code
    return await ox.decide(
        lead_id, lambda lead: rules.escalate(lead, county, command.reason, principal.actor)
    )


async def link_umbrella(ox: Oversight, command: LinkUmbrella, principal: Principal) -> Event:
    lead_id = await ox.lead_of(command.case_id)
    gang = command.gang_lead_id
    if await ox.reported(gang) is None:
        raise RuleViolation(
            f"no lead {gang!r} was ever reported", f"没有编号为 {gang} 的线索", field="gang_lead_id"
        )
    return await ox.decide(lead_id, lambda lead: rules.link_umbrella(lead, gang, principal.actor))


async def record_accountability(
    ox: Oversight, command: RecordAccountability, principal: Principal
) -> Event:
    lead_id = await ox.lead_of(command.case_id)
    return await ox.decide(
        lead_id,
        lambda lead: rules.hold_accountable(
            lead,
            command.person,
            command.unit,
            command.kind,
            command.form,
            command.reason,
            principal.actor,
        ),
    )


async def record_outcome(ox: Oversight, command: RecordOutcome, principal: Principal) -> Event:
    lead_id = await ox.lead_of(command.case_id)
    transfers = await ox.ledger_transfers(lead_id)
    discipline = ox.discipline.code
    return await ox.decide(
        lead_id,
        lambda lead: rules.discipline_outcome(
            lead, command.result, transfers, discipline, _as_unit(principal)
        ),
    )


Handler = Callable[[Oversight, Any, Principal], Awaitable[Event]]
HANDLERS: dict[type[Any], Handler] = {
    Supervise: supervise,
    ListSupervision: list_supervision,
    Escalate: escalate,
    LinkUmbrella: link_umbrella,
    RecordAccountability: record_accountability,
    RecordOutcome: record_outcome,
}
