"""The ledger's command handlers: read the lead's own events, decide, append with the
lead's last sequence (so two officers acting at once cannot both win)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, Final

import structlog
from nats.js.errors import NotFoundError

from common.auth import Principal
from common.errors import NotFound, NotPermitted, RuleViolation
from common.events import Actor, Event, Role, utc_now
from common.events.catalogue import LeadViewed, LedgerExported
from common.eventstore import ConcurrencyConflict, LeadHistory
from common.organisation import UnitKind
from common.service import ServiceRuntime
from common.subjects import Stream, lead_filter
from ledger.domain import lead as rules
from ledger.domain.lead import LedgerLead
from ledger.projection import PROJECTION, queries
from ledger.projection.queries import Filters, due_deadlines
from ledger.settings import LedgerSettings

log = structlog.get_logger(__name__)

# Who may act on a lead at all; the lead's holder is checked by the rules.
HANDLERS: Final = frozenset({Role.OFFICE, Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE})
# A lead that does not exist and one the principal may not see get the same answer.
NO_SUCH_LEAD: Final = "no such lead, or not one you may see"
# How long an answer waits for the read model to catch up with a lead (it takes
# milliseconds; longer means the projection is stuck, and the lead stays hidden).
CATCH_UP_SECONDS: Final = 5.0
_NAMESPACE: Final = uuid.UUID("a3b9d1f2-5c6e-4f7a-8b9c-0d1e2f3a4b5c")


class Ledger:
    def __init__(self, runtime: ServiceRuntime, settings: LedgerSettings) -> None:
        self.runtime = runtime
        self.settings = settings

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

    async def act(
        self, lead_id: str, principal: Principal, decide: Callable[[LedgerLead], Event]
    ) -> tuple[Event, LedgerLead]:
        """Decide on the lead's current events and append the result, or refuse."""
        if principal.role not in HANDLERS:
            raise NotPermitted(f"role '{principal.role.value}' does not handle leads")
        await self.visible(lead_id, principal)
        try:
            lead, sequence = await self.load(lead_id)
        except NotFound as exc:
            raise NotFound(NO_SUCH_LEAD) from exc
        event = decide(lead)
        await self.runtime.store(Stream.LEDGER).append(event, expected_sequence=sequence)
        log.info(
            "ledger_event",
            lead_id=lead_id,
            event_type=event.event_type,
            event_id=event.event_id,
            correlation_id=event.correlation_id,
        )
        return event, lead

    def check_unit(self, code: str, field: str) -> None:
        unit = self.runtime.org.unit(code)
        if unit is None or unit.kind is UnitKind.VILLAGE:
            handlers = ", ".join(
                f"{u.code} ({u.name})"
                for u in self.runtime.org.units
                if u.kind is not UnitKind.VILLAGE
            )
            raise RuleViolation(
                f"{field}: unknown unit {code!r}; one of {handlers}",
                f"{field}: 没有这个单位 {code!r}；可选：{handlers}",
            )

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
        append checks the lead's sequence, and its id is derived from lead and deadline."""
        now = utc_now()
        async with self.runtime.database.async_engine.connect() as conn:
            due = await due_deadlines(conn, now)
        actor = Actor(role=Role.SYSTEM, user="deadlines")
        marked = 0
        for lead_id in due:
            try:
                lead, sequence = await self.load(lead_id)
            except NotFound:
                continue
            missed = rules.deadline_missed(lead, now, actor)
            if missed is None:
                continue
            missed = missed.model_copy(
                update={
                    "event_id": str(
                        uuid.uuid5(_NAMESPACE, f"{lead_id}:{missed.deadline.isoformat()}")
                    )
                }
            )
            try:
                appended = await self.runtime.store(Stream.LEDGER).append(
                    missed, expected_sequence=sequence
                )
            except ConcurrencyConflict:
                continue  # the lead changed; the next round decides again
            if not appended.duplicate:
                marked += 1
                log.warning("deadline_missed", lead_id=lead_id, event_id=missed.event_id)
        return marked
