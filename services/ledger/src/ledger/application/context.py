"""The ledger's context: what every command, read and job shares (the runtime, the
settings, a lead's events), and one entry point for each, a call into the module that
holds it: :mod:`handling` (a person's commands), :mod:`reading` (what a reader is answered
and what is recorded about it), :mod:`choices` (what a person may choose on a lead),
:mod:`deadlines` (the deadline round)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from common.auth import Principal
from common.eventstore import LeadHistory
from common.service import ServiceRuntime
from common.subjects import Stream
from ledger.application import choices, deadlines, handling, reading
from ledger.application.choices import Person
from ledger.application.handling import Recorded
from ledger.application.reading import LeadInFull
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
from ledger.projection.queries import Filters, LeadPage, Timeliness
from ledger.settings import LedgerSettings

Handler = Callable[[Any, Any, Principal], Awaitable[Recorded]]

_HANDLERS: dict[type[Any], Handler] = {
    Transfer: handling.transfer,
    Accept: handling.accept,
    Return: handling.return_lead,
    Assign: handling.assign,
    ExtendDeadline: handling.extend_deadline,
    RecordVerification: handling.record_verification,
    Conclude: handling.conclude,
    GiveFeedback: handling.give_feedback,
    Archive: handling.archive,
    Reopen: handling.reopen,
}


class Ledger:
    def __init__(self, runtime: ServiceRuntime, settings: LedgerSettings) -> None:
        self.runtime = runtime
        self.settings = settings

    async def execute(self, command: Command, principal: Principal) -> Recorded:
        return await _HANDLERS[type(command)](self, command, principal)

    # --- the lead's events ----------------------------------------------------------

    async def history(self, lead_id: str) -> tuple[LeadHistory, LeadHistory]:
        ledger = await self.runtime.store(Stream.LEDGER).read_lead(lead_id)
        directives = await self.runtime.store(Stream.DIRECTIVES).read_lead(lead_id)
        return ledger, directives

    async def load(self, lead_id: str) -> tuple[LedgerLead, int]:
        """The lead as its own events make it (what directives change, the ledger records
        in its own stream first), and the sequence a write must expect."""
        ledger = await self.runtime.store(Stream.LEDGER).read_lead(lead_id)
        return rules.fold(e.event for e in ledger.events), ledger.last_sequence

    # --- reading --------------------------------------------------------------------

    async def visible(self, lead_id: str, principal: Principal) -> dict[str, Any]:
        return await reading.visible(self, lead_id, principal)

    async def read_in_full(self, key: str, principal: Principal, purpose: str) -> LeadInFull:
        return await reading.read_in_full(self, key, principal, purpose)

    async def page(
        self, principal: Principal, filters: Filters, number: int, size: int
    ) -> LeadPage:
        return await reading.page(self, principal, filters, number, size)

    async def unanswered(self, principal: Principal, days: int | None) -> list[dict[str, Any]]:
        return await reading.unanswered(self, principal, days)

    async def statistics(self, principal: Principal) -> dict[str, dict[str, int]]:
        return await reading.statistics(self, principal)

    async def export_rows(
        self, principal: Principal, fmt: str, filters: Filters
    ) -> list[dict[str, Any]]:
        return await reading.export_rows(self, principal, fmt, filters)

    async def viewed(self, lead_id: str, principal: Principal, purpose: str) -> None:
        await reading.viewed(self, lead_id, principal, purpose)

    async def timeliness(self, principal: Principal) -> Timeliness:
        return await reading.timeliness(self, principal)

    async def caught_up(self, lead_id: str) -> bool:
        return await reading.caught_up(self, lead_id)

    # --- what a person may choose -------------------------------------------------

    def available(
        self, read: LeadInFull, principal: Principal, now: datetime
    ) -> frozenset[type[Command]]:
        return choices.available(self, read, principal, now)

    async def people_of(self, unit: str) -> list[Person]:
        return await choices.people_of(self, unit)

    # --- deadlines ------------------------------------------------------------------

    async def mark_missed_deadlines(self) -> int:
        return await deadlines.mark_missed_deadlines(self)
