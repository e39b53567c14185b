"""The ledger's application: each command in one place, where the lead is loaded from its
own events, the rules decide, and the decision is appended with the lead's last sequence
(so two officers acting at once cannot both win: the second is told, 409, and does not
retry on a lead that changed under them). Also what is recorded about reading, the reads
the API answers, and the deadline round."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import structlog
from nats.js.errors import NotFoundError

from common.application import for_each_due
from common.auth import Principal
from common.errors import NotFound, NotPermitted, RuleViolation
from common.events import Actor, Event, Role, utc_now
from common.events.catalogue import Attachment, LeadViewed, LedgerExported
from common.eventstore import LeadHistory
from common.organisation import UnitKind
from common.service import ServiceRuntime
from common.subjects import Stream, lead_filter
from ledger.commands import (
    Accept,
    Archive,
    Assign,
    Command,
    Conclude,
    ExtendDeadline,
    GiveFeedback,
    RecordVerification,
    Reopen,
    Return,
    Transfer,
)
from ledger.domain import lead as rules
from ledger.domain.lead import LedgerLead
from ledger.projection import PROJECTION, queries
from ledger.projection.queries import Filters, due_deadlines
from ledger.settings import LedgerSettings

log = structlog.get_logger(__name__)

# Who may act on a lead at all; the lead's holder is checked by the rules.
HANDLING_ROLES: Final = frozenset({Role.OFFICE, Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE})
# A lead that does not exist and one the principal may not see get the same answer.
NO_SUCH_LEAD: Final = "no such lead, or not one you may see"
# How long an answer waits for the read model to catch up with a lead (it takes
# milliseconds; longer means the projection is stuck, and the lead stays hidden).
CATCH_UP_SECONDS: Final = 5.0
_NAMESPACE: Final = uuid.UUID("a3b9d1f2-5c6e-4f7a-8b9c-0d1e2f3a4b5c")


@dataclass(frozen=True)
class Recorded:
    """What a command appended, and the lead as the event leaves it."""

    event: Event
    lead: LedgerLead


class Ledger:
    def __init__(self, runtime: ServiceRuntime, settings: LedgerSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self._handlers: dict[type[Any], Callable[[Any, Principal], Awaitable[Recorded]]] = {
            Transfer: self.transfer,
            Accept: self.accept,
            Return: self.return_lead,
            Assign: self.assign,
            ExtendDeadline: self.extend_deadline,
            RecordVerification: self.record_verification,
            Conclude: self.conclude,
            GiveFeedback: self.give_feedback,
            Archive: self.archive,
            Reopen: self.reopen,
        }

    async def execute(self, command: Command, principal: Principal) -> Recorded:
        return await self._handlers[type(command)](command, principal)

    # --- the commands ---------------------------------------------------------------

    async def transfer(self, command: Transfer, principal: Principal) -> Recorded:
        lead, sequence = await self._open(command.lead_id, principal)
        self._check_handling_unit(command.to_unit)
        event = rules.transfer(lead, command.to_unit, command.reason, principal.actor)
        return await self._record(lead, sequence, event)

    async def accept(self, command: Accept, principal: Principal) -> Recorded:
        lead, sequence = await self._open(command.lead_id, principal)
        return await self._record(lead, sequence, rules.accept(lead, principal.actor))

    async def return_lead(self, command: Return, principal: Principal) -> Recorded:
        lead, sequence = await self._open(command.lead_id, principal)
        event = rules.return_transfer(lead, command.reason, principal.actor)
        return await self._record(lead, sequence, event)

    async def assign(self, command: Assign, principal: Principal) -> Recorded:
        now = utc_now()
        lead, sequence = await self._open(command.lead_id, principal)
        deadline = command.deadline or now + self.settings.deadline_for(lead.registered.category)
        event = rules.assign(
            lead,
            command.assignee,
            command.assignee_name,
            deadline,
            command.reason,
            principal.actor,
            now,
        )
        return await self._record(lead, sequence, event)

    async def extend_deadline(self, command: ExtendDeadline, principal: Principal) -> Recorded:
        lead, sequence = await self._open(command.lead_id, principal)
        event = rules.extend_deadline(lead, command.deadline, command.reason, principal.actor)
        return await self._record(lead, sequence, event)

    async def record_verification(
        self, command: RecordVerification, principal: Principal
    ) -> Recorded:
        lead, sequence = await self._open(command.lead_id, principal)
        evidence = tuple(
            Attachment(name=e.name, size=e.size, sha256=e.sha256) for e in command.evidence
        )
        event = rules.record_verification(lead, command.note, evidence, principal.actor)
        return await self._record(lead, sequence, event)

    async def conclude(self, command: Conclude, principal: Principal) -> Recorded:
        lead, sequence = await self._open(command.lead_id, principal)
        event = rules.conclude(lead, command.result, command.summary, principal.actor)
        return await self._record(lead, sequence, event)

    async def give_feedback(self, command: GiveFeedback, principal: Principal) -> Recorded:
        lead, sequence = await self._open(command.lead_id, principal)
        event = rules.give_feedback(lead, command.text, command.method, principal.actor)
        return await self._record(lead, sequence, event)

    async def archive(self, command: Archive, principal: Principal) -> Recorded:
        lead, sequence = await self._open(command.lead_id, principal)
        return await self._record(lead, sequence, rules.archive(lead, principal.actor))

    async def reopen(self, command: Reopen, principal: Principal) -> Recorded:
        lead, sequence = await self._open(command.lead_id, principal)
        event = rules.reopen(lead, command.reason, principal.actor)
        return await self._record(lead, sequence, event)

    async def _open(self, lead_id: str, principal: Principal) -> tuple[LedgerLead, int]:
        """The lead a person's command decides on, and the sequence its append expects.

        Whether the principal may see the lead is asked before anything else is read, so a
        hidden lead answers exactly as one that does not exist (nothing of its state or
        holder shows through a refusal)."""
        if principal.role not in HANDLING_ROLES:
            raise NotPermitted(f"role '{principal.role.value}' does not handle leads")
        await self.visible(lead_id, principal)
        try:
            return await self.load(lead_id)
        except NotFound as exc:
            raise NotFound(NO_SUCH_LEAD) from exc

    async def _record(self, lead: LedgerLead, sequence: int, event: Event) -> Recorded:
        await self.runtime.store(Stream.LEDGER).append(event, expected_sequence=sequence)
        log.info(
            "ledger_event",
            lead_id=lead.lead_id,
            event_type=event.event_type,
            event_id=event.event_id,
            correlation_id=event.correlation_id,
        )
        return Recorded(event=event, lead=rules.evolve(lead, event))

    def _check_handling_unit(self, code: str) -> None:
        """Only a unit of the organisation that handles leads (not a village) takes one."""
        unit = self.runtime.org.unit(code)
        if unit is None or unit.kind is UnitKind.VILLAGE:
            handling = ", ".join(
                f"{u.code} ({u.name})"
                for u in self.runtime.org.units
                if u.kind is not UnitKind.VILLAGE
            )
            raise RuleViolation(
                f"unknown unit {code!r}; one of {handling}",
                f"没有这个单位 {code!r}；可选：{handling}",
                field="to_unit",
            )

    # --- the lead's events, and who may see it --------------------------------------

    async def history(self, lead_id: str) -> tuple[LeadHistory, LeadHistory]:
        ledger = await self.runtime.store(Stream.LEDGER).read_lead(lead_id)
        directives = await self.runtime.store(Stream.DIRECTIVES).read_lead(lead_id)
        return ledger, directives

    async def load(self, lead_id: str) -> tuple[LedgerLead, int]:
        """The lead as its own events make it (what directives change, the ledger records
        in its own stream first), and the sequence a write must expect."""
        ledger = await self.runtime.store(Stream.LEDGER).read_lead(lead_id)
        return rules.fold(e.event for e in ledger.events), ledger.last_sequence

    async def visible(self, lead_id: str, principal: Principal) -> dict[str, Any]:
        """The lead's row in the ledger, if the principal may see the lead; otherwise the
        very 404 a lead that does not exist gets. Reads and commands alike ask here first,
        so nothing about a hidden lead (its state, who holds it) ever shows.

        The read model follows the stream by moments: a lead handed to this unit a moment
        ago is not hidden, only not projected yet. When the row is missing, the answer waits
        (briefly) for the read model to apply the lead's last event."""
        async with self.runtime.database.async_engine.connect() as conn:
            row = await queries.one(conn, principal, lead_id)
        if row is None and await self._caught_up_with(lead_id):
            async with self.runtime.database.async_engine.connect() as conn:
                row = await queries.one(conn, principal, lead_id)
        if row is None:
            raise NotFound(NO_SUCH_LEAD)
        return row

    async def _caught_up_with(self, lead_id: str) -> bool:
        """Whether the lead has events the read model had not applied, and has now."""
        try:
            wanted = lead_filter(self.runtime.store(Stream.LEDGER).subject_prefix, lead_id)
        except ValueError:
            return False  # not a lead id at all
        try:
            last = await self.runtime.js.get_msg(Stream.LEDGER.value, subject=wanted, direct=True)
        except NotFoundError:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CATCH_UP_SECONDS
        while True:
            async with self.runtime.database.async_engine.connect() as conn:
                applied = await queries.applied_position(conn, PROJECTION.name, Stream.LEDGER.value)
            if applied >= (last.seq or 0):
                return True
            if loop.time() > deadline:
                log.warning("read_model_behind", lead_id=lead_id, applied=applied)
                return False
            await asyncio.sleep(0.02)

    # --- what is recorded about reading --------------------------------------------

    async def viewed(self, lead_id: str, principal: Principal, purpose: str) -> None:
        await self.runtime.record_access(
            LeadViewed(lead_id=lead_id, service="ledger", purpose=purpose, actor=principal.actor)
        )

    async def exported(self, principal: Principal, fmt: str, filters: Filters, rows: int) -> None:
        await self.runtime.record_access(
            LedgerExported(
                service="ledger",
                format=fmt,
                filters=filters.as_dict(),
                row_count=rows,
                actor=principal.actor,
            )
        )

    # --- deadlines ------------------------------------------------------------------

    async def mark_missed_deadlines(self) -> int:
        """Append DeadlineMissed, once, for every deadline that passed without a result.

        Safe to run in every replica and after every restart: the decision is taken on the
        lead's events (a DeadlineMissed already there for this deadline means done), the
        append checks the lead's sequence (a lead that changed meanwhile is decided on
        again next round), and its id is derived from lead and deadline."""
        now = utc_now()
        async with self.runtime.database.async_engine.connect() as conn:
            due = await due_deadlines(conn, now)
        actor = Actor(role=Role.SYSTEM, user="deadlines")
        return await for_each_due(
            due, lambda lead_id: self._mark_missed(lead_id, now, actor), job="deadlines"
        )

    async def _mark_missed(self, lead_id: str, now: datetime, actor: Actor) -> bool:
        try:
            lead, sequence = await self.load(lead_id)
        except NotFound:
            return False
        missed = rules.deadline_missed(lead, now, actor)
        if missed is None:
            return False
        missed = missed.model_copy(
            update={
                "event_id": str(uuid.uuid5(_NAMESPACE, f"{lead_id}:{missed.deadline.isoformat()}"))
            }
        )
        appended = await self.runtime.store(Stream.LEDGER).append(
            missed, expected_sequence=sequence
        )
        if appended.duplicate:
            return False
        log.warning("deadline_missed", lead_id=lead_id, event_id=missed.event_id)
        return True
