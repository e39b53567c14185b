"""Filing every reported lead in the ledger (归宗建档), and routing it.

On LeadReported the registrar appends LeadRegistered with the next ledger number, checked
against the last registration's sequence (so numbers have no gaps and no repeats, whatever
runs at once), and then, if the lead is flagged for the discipline committee, transfers it
there at once. Redelivery is harmless: a lead already filed is not filed again."""

from __future__ import annotations

import uuid
from typing import Final

import structlog

from common.application import retry_on_conflict
from common.events import Actor, Event, Role, utc_now
from common.events.catalogue import LeadRegistered, LeadReported, LeadTransferred
from common.organisation import UnitKind
from common.service import ServiceRuntime
from common.subjects import Stream
from ledger.domain.numbering import is_ledger_number, next_number
from ledger.settings import LedgerSettings

log = structlog.get_logger(__name__)

REGISTRATIONS: Final = "ledger.lead.*.LeadRegistered"
_NAMESPACE: Final = uuid.UUID("1d7f3a0c-52c4-4d3e-b7a9-0a4e9f1c2b65")
NUMBERING_ATTEMPTS: Final = 100


def _numbered(event: Event) -> bool:
    return isinstance(event, LeadRegistered) and is_ledger_number(event.ledger_number)


class Registrar:
    def __init__(self, runtime: ServiceRuntime, settings: LedgerSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.office = runtime.org.the(UnitKind.OFFICE)
        self.discipline = runtime.org.the(UnitKind.DISCIPLINE)
        self.actor = Actor(role=Role.SYSTEM, unit=self.office.code, user="registrar")

    async def __call__(self, event: Event) -> None:
        """Files a reported lead in the ledger and routes it."""
        if not isinstance(event, LeadReported):
            return
        registered = await self._register(event)
        if registered.for_committee:
            await self._route_to_discipline(registered)

    async def _register(self, reported: LeadReported) -> LeadRegistered:
        # Another lead may take the number first: then this one takes the next. Every lead
        # reported at once can be ahead of it, so it tries far more often than a decision
        # on one lead does.
        return await retry_on_conflict(
            lambda: self._register_once(reported), attempts=NUMBERING_ATTEMPTS
        )

    async def _register_once(self, reported: LeadReported) -> LeadRegistered:
        ledger = self.runtime.store(Stream.LEDGER)
        history = await ledger.read_lead(reported.lead_id)
        for stored in history.events:
            if isinstance(stored.event, LeadRegistered):
                return stored.event
        # A registration whose number cannot be read is stepped over like one that does
        # not decode: numbering goes on from the last good one.
        last_sequence, last = await ledger.last_readable(REGISTRATIONS, _numbered)
        previous = last.event if last is not None else None
        now = utc_now()
        registered = LeadRegistered(
            event_id=str(uuid.uuid5(_NAMESPACE, f"registered:{reported.lead_id}")),
            lead_id=reported.lead_id,
            ledger_number=next_number(
                self.runtime.org.town.ledger_prefix,
                now,
                previous.ledger_number if isinstance(previous, LeadRegistered) else None,
            ),
            unit=self.office.code,
            reported_at=reported.occurred_at,
            channel=reported.channel,
            category=reported.category,
            summary=reported.summary,
            village=reported.village,
            flags=reported.flags,
            for_committee=self.settings.committee_rule.takes(reported.flags, reported.category),
            occurred_at=now,
            actor=self.actor,
            **reported.caused(),
        )
        await ledger.append(
            registered, expected_sequence=last_sequence, expected_subject=REGISTRATIONS
        )
        log.info(
            "lead_registered",
            lead_id=reported.lead_id,
            ledger_number=registered.ledger_number,
            event_id=registered.event_id,
        )
        return registered

    async def _route_to_discipline(self, registered: LeadRegistered) -> None:
        # Someone may act on the lead in between: then read again and decide again.
        await retry_on_conflict(lambda: self._route_once(registered))

    async def _route_once(self, registered: LeadRegistered) -> None:
        ledger = self.runtime.store(Stream.LEDGER)
        history = await ledger.read_lead(registered.lead_id)
        if any(isinstance(e.event, LeadTransferred) for e in history.events):
            return
        transfer = LeadTransferred(
            event_id=str(uuid.uuid5(_NAMESPACE, f"routed:{registered.lead_id}")),
            lead_id=registered.lead_id,
            from_unit=self.office.code,
            to_unit=self.discipline.code,
            reason="涉及党员、公职人员或保护伞，按规定移送纪委 (involves an official or a protective umbrella)",
            actor=self.actor,
            **registered.caused(),
        )
        await ledger.append(transfer, expected_sequence=history.last_sequence)
