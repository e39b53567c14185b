"""Filing every reported lead in the ledger (归宗建档), and routing it.

On LeadReported the registrar appends LeadRegistered with the next ledger number, checked
against the last registration's sequence (so numbers have no gaps and no repeats, whatever
runs at once), and then, if the lead is flagged for the discipline committee, transfers it
there at once. Redelivery is harmless: a lead already filed is not filed again.

Leads reported together are filed in one decision (``register_batch``): which of them are
new is read for all at once, the last registration once, and the numbers that follow it are
given in the order they were reported. Each append still names the sequence of the
registration before it (the one just acknowledged), so the expected-sequence check proves
every number as before; when another writer gets in between, the rest are numbered again
after what it wrote. What costs a registration is then one acknowledged append (one fsync)
instead of three round trips and the append, and the transfers to the committee follow in
one pipelined round."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Final

import structlog

from common.application import retry_on_conflict
from common.events import Actor, Event, Role, utc_now
from common.events.catalogue import LeadRegistered, LeadReported, LeadTransferred
from common.eventstore import ConcurrencyConflict, EventStore, StoredEvent
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
        await self.register_batch((event,))

    async def register_batch(self, events: Sequence[Event]) -> None:
        """Files every reported lead of ``events`` in the order given, and routes those
        flagged for the committee. Leads filed before are only routed, if need be."""
        reports = _unique_reports(events)
        if not reports:
            return
        ledger = self.runtime.store(Stream.LEDGER)
        histories = await asyncio.gather(*(ledger.read_lead(r.lead_id) for r in reports))
        new: list[LeadReported] = []
        earlier: list[LeadRegistered] = []
        for reported, history in zip(reports, histories, strict=True):
            found = _registration_in(history.events)
            if found is None:
                new.append(reported)
            else:
                earlier.append(found)
        filed, late = await self._number(ledger, new)
        for reported in late:
            history = await ledger.read_lead(reported.lead_id)
            found = _registration_in(history.events)
            if found is None:
                raise RuntimeError(f"lead {reported.lead_id} was filed, but is not on LEDGER")
            earlier.append(found)
        await asyncio.gather(
            *(self._route_filed(ledger, reg, seq) for reg, seq in filed if reg.for_committee),
            *(self._route_to_discipline(reg) for reg in earlier if reg.for_committee),
        )

    async def _number(
        self, ledger: EventStore, reports: Sequence[LeadReported]
    ) -> tuple[list[tuple[LeadRegistered, int]], list[LeadReported]]:
        """Appends a registration for each report, numbered after the last one: the
        registrations with their sequences, and the reports whose registration the stream
        already held (a redelivery racing its first delivery: deduplicated by event id)."""
        filed: list[tuple[LeadRegistered, int]] = []
        late: list[LeadReported] = []
        remaining = list(reports)
        conflicts = 0
        while remaining:
            # A registration whose number cannot be read is stepped over like one that does
            # not decode: numbering goes on from the last good one.
            last_sequence, last = await ledger.last_readable(REGISTRATIONS, _numbered)
            previous = last.event if last is not None else None
            number = previous.ledger_number if isinstance(previous, LeadRegistered) else None
            try:
                while remaining:
                    registered = self._registration(remaining[0], number)
                    appended = await ledger.append(
                        registered, expected_sequence=last_sequence, expected_subject=REGISTRATIONS
                    )
                    reported = remaining.pop(0)
                    if appended.duplicate:
                        # Its number is the stored one, and this one was not used: number
                        # the rest after what the stream holds.
                        late.append(reported)
                        break
                    filed.append((registered, appended.sequence))
                    conflicts = 0
                    last_sequence, number = appended.sequence, registered.ledger_number
                    log.info(
                        "lead_registered",
                        lead_id=registered.lead_id,
                        ledger_number=registered.ledger_number,
                        event_id=registered.event_id,
                    )
            except ConcurrencyConflict:
                # Another registration got in first: the rest take the numbers after it.
                # Every lead reported at once can be ahead, so this is tried far more often
                # than a decision on one lead (counted since the last number that held).
                conflicts += 1
                if conflicts >= NUMBERING_ATTEMPTS:
                    raise
        return filed, late

    def _registration(self, reported: LeadReported, last_number: str | None) -> LeadRegistered:
        now = utc_now()
        return LeadRegistered(
            event_id=str(uuid.uuid5(_NAMESPACE, f"registered:{reported.lead_id}")),
            lead_id=reported.lead_id,
            ledger_number=next_number(self.runtime.org.town.ledger_prefix, now, last_number),
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

    async def _route_filed(self, ledger: EventStore, registered: LeadRegistered, at: int) -> None:
        """Routes a lead just filed: its registration, at ``at``, is its last event unless
        someone acted on it since, and then the decision is taken again on its history."""
        try:
            await ledger.append(self._transfer(registered), expected_sequence=at)
        except ConcurrencyConflict:
            await self._route_to_discipline(registered)

    async def _route_to_discipline(self, registered: LeadRegistered) -> None:
        # Someone may act on the lead in between: then read again and decide again.
        await retry_on_conflict(lambda: self._route_once(registered))

    async def _route_once(self, registered: LeadRegistered) -> None:
        ledger = self.runtime.store(Stream.LEDGER)
        history = await ledger.read_lead(registered.lead_id)
        if any(isinstance(e.event, LeadTransferred) for e in history.events):
            return
        await ledger.append(self._transfer(registered), expected_sequence=history.last_sequence)

    def _transfer(self, registered: LeadRegistered) -> LeadTransferred:
        return LeadTransferred(
            event_id=str(uuid.uuid5(_NAMESPACE, f"routed:{registered.lead_id}")),
            lead_id=registered.lead_id,
            from_unit=self.office.code,
            to_unit=self.discipline.code,
            reason="涉及党员、公职人员或保护伞，按规定移送纪委 (involves an official or a protective umbrella)",
            actor=self.actor,
            **registered.caused(),
        )


def _unique_reports(events: Sequence[Event]) -> list[LeadReported]:
    """The reports among ``events``, each lead once (a redelivery beside its first delivery)."""
    seen: set[str] = set()
    reports: list[LeadReported] = []
    for event in events:
        if isinstance(event, LeadReported) and event.lead_id not in seen:
            seen.add(event.lead_id)
            reports.append(event)
    return reports


def _registration_in(history: Sequence[StoredEvent]) -> LeadRegistered | None:
    for stored in history:
        if isinstance(stored.event, LeadRegistered):
            return stored.event
    return None
