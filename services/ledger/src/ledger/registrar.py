"""Filing every reported lead in the ledger (归宗建档), and routing it.

On LeadReported the registrar appends LeadRegistered with the next ledger number, checked
against the last registration's sequence (so numbers have no gaps and no repeats, whatever
runs at once), and then, if the lead is flagged for the discipline committee, transfers it
there at once. Redelivery is harmless: a lead already filed is not filed again.

Leads reported together are filed in one decision (``register_batch``). Where the LEDGER
stream allows atomic batches, their registrations, numbered after the last one, and the
transfers of the flagged ones are appended as one batch (ledger.batchappend): stored one
after the other with nothing between them, or not at all. The first registration expects
the sequence of the last registration read, so the expected-sequence check proves the whole
run of numbers; each other one expects its lead to have no event on LEDGER yet, so a lead
filed before fails the batch instead of being filed twice, without a read per lead. A
batch costs one acknowledged write. When it is refused (another registration got in first,
a lead was filed before) or the stream does not allow atomic batches, every lead's history
is read, and the new ones are filed one by one, each append expecting the registration just
acknowledged before it, then routed.

A county of several towns numbers each town's leads in a sequence of its own (SHD-…,
ZXL-…). A lead belongs to the town of its village (else of the unit that entered it, else
the first town); it is filed by that town's office and routed to that town's committee.
Every registration still expects the county's last one, so the one check proves every
town's run of numbers; each town's last number is folded from the registrations read
since the last fold (:class:`~ledger.domain.numbering.LastNumbers`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import structlog

from common.application import retry_on_conflict
from common.events import Actor, Event, EventDecodeError, Role, decode, event_type_of, utc_now
from common.events.catalogue import LeadRegistered, LeadReported, LeadTransferred
from common.eventstore import (
    ConcurrencyConflict,
    EventStore,
    StoredEvent,
    appended_id,
    read_messages,
)
from common.organisation import Town, Unit, UnitKind
from common.service import ServiceRuntime
from common.subjects import Stream, lead_filter
from ledger.application.towns import town_of_lead
from ledger.batchappend import MAX_BATCH, AtomicBatchRefused, Expect, append_batch
from ledger.domain.numbering import (
    LastNumbers,
    filing_time,
    is_ledger_number,
    next_number,
    prefix_of,
)
from ledger.settings import LedgerSettings

log = structlog.get_logger(__name__)

REGISTRATIONS: Final = "ledger.lead.*.LeadRegistered"
_NAMESPACE: Final = uuid.UUID("1d7f3a0c-52c4-4d3e-b7a9-0a4e9f1c2b65")
NUMBERING_ATTEMPTS: Final = 100
ATOMIC_RETRY_SECONDS: Final = 300.0
# Atomic batches refused in a row (other registrars got in first) before filing one by one.
ATOMIC_ATTEMPTS: Final = 5


def _numbered(event: Event) -> bool:
    return isinstance(event, LeadRegistered) and is_ledger_number(event.ledger_number)


class Registrar:
    def __init__(self, runtime: ServiceRuntime, settings: LedgerSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        org = runtime.org
        # Each town's office files its leads and its committee takes the flagged ones: a
        # town without either stops the service at start, not at its first lead.
        self.offices: dict[str, Unit] = {t.code: t.the(UnitKind.OFFICE) for t in org.towns}
        self.committees: dict[str, Unit] = {t.code: t.the(UnitKind.DISCIPLINE) for t in org.towns}
        self._last_numbers = LastNumbers()
        self._folding = asyncio.Lock()
        # Atomic batches are tried again this long after the stream refused them (an
        # administrator may allow them meanwhile).
        self._atomic_again_at = 0.0

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
        started = time.perf_counter()
        if self._atomic_allowed() and await self._file_at_once(ledger, reports):
            _batch_logged(reports, len(reports), started)
            return
        # Something was in the way: read every lead, and file the new ones as one batch
        # again (another registrar got in first), or one by one.
        new, earlier = await self._read(ledger, reports)
        attempts = ATOMIC_ATTEMPTS
        while new and self._atomic_allowed() and attempts > 0:
            if await self._file_at_once(ledger, new, checked=True):
                await self._route_earlier(earlier)
                _batch_logged(reports, len(new), started)
                return
            new, earlier = await self._read(ledger, reports)
            attempts -= 1
        filed, late = await self._number(ledger, new)
        for reported in late:
            history = await ledger.read_lead(reported.lead_id)
            found = _registration_in(history.events)
            if found is None:
                raise RuntimeError(f"lead {reported.lead_id} was filed, but is not on LEDGER")
            earlier.append(found)
        await asyncio.gather(
            *(self._route_filed(ledger, reg, seq) for reg, seq in filed if reg.for_committee),
            self._route_earlier(earlier),
        )
        _batch_logged(reports, len(filed), started)

    async def _read(
        self, ledger: EventStore, reports: Sequence[LeadReported]
    ) -> tuple[list[LeadReported], list[LeadRegistered]]:
        """The reports of leads not filed yet, and the registrations of those filed."""
        histories = await asyncio.gather(*(ledger.read_lead(r.lead_id) for r in reports))
        new: list[LeadReported] = []
        earlier: list[LeadRegistered] = []
        for reported, history in zip(reports, histories, strict=True):
            found = _registration_in(history.events)
            if found is None:
                new.append(reported)
            else:
                earlier.append(found)
        return new, earlier

    async def _route_earlier(self, earlier: Sequence[LeadRegistered]) -> None:
        await asyncio.gather(*(self._route_to_discipline(r) for r in earlier if r.for_committee))

    async def _file_at_once(
        self, ledger: EventStore, reports: Sequence[LeadReported], *, checked: bool = False
    ) -> bool:
        """Files and routes ``reports`` in atomic batches without reading each lead first:
        each registration expects its lead to have no event on LEDGER yet, the first of a
        batch also expects the last registration read, and a flagged lead's transfer
        follows its registration inside the batch. False when the leads are to be read
        and filed the slower way (one was filed meanwhile, another registration got in
        first, or the stream refuses atomic batches); what was stored is then found there.
        ``checked``: the leads were read just before and had no event on LEDGER."""
        remaining = list(reports)
        # The first lead's history and the last registration, read at once: one round trip
        # less before the batch is stored.
        last_read = ledger.last_readable(REGISTRATIONS, _numbered)
        if checked:
            last_sequence, last = await last_read
        else:
            first, (last_sequence, last) = await asyncio.gather(
                ledger.read_lead(remaining[0].lead_id), last_read
            )
            if first.events:
                return False
        run = await self._numbers(ledger, last_sequence, last)
        while remaining:
            batch: list[tuple[Event, Expect | None]] = []
            registrations: list[tuple[LeadRegistered, int]] = []
            taken = remaining[: MAX_BATCH // 2]
            for n, reported in enumerate(taken):
                registered = self._registration(reported, run)
                expect = (
                    Expect(last_sequence, REGISTRATIONS)
                    if n == 0
                    else Expect(0, lead_filter(ledger.subject_prefix, reported.lead_id))
                )
                registrations.append((registered, len(batch)))
                batch.append((registered, expect))
                if registered.for_committee:
                    # Nothing can come between them: the batch is stored as one.
                    batch.append((self._transfer(registered), None))
            try:
                at = await append_batch(self.runtime.js, ledger, batch)
            except ConcurrencyConflict:
                return False
            except AtomicBatchRefused as exc:
                if exc.disabled:
                    log.warning("atomic_batches_refused", stream=ledger.stream.value)
                    self._atomic_again_at = time.monotonic() + ATOMIC_RETRY_SECONDS
                    return False
                if exc.duplicate:
                    return False
                raise
            # An atomic batch is stored contiguously, ending at ``at``.
            stored_from = at - len(batch) + 1
            for registered, _ in registrations:
                _logged(registered)
            self._remember(
                last_sequence, [(stored_from + i, r.ledger_number) for r, i in registrations]
            )
            last_sequence = stored_from + registrations[-1][1]
            del remaining[: len(taken)]
        return True

    async def _number(
        self, ledger: EventStore, reports: Sequence[LeadReported]
    ) -> tuple[list[tuple[LeadRegistered, int]], list[LeadReported]]:
        """Appends a registration for each report, one by one, numbered after the last one:
        the registrations with their sequences, and the reports whose registration the
        stream already held (a redelivery racing its first delivery: deduplicated by event
        id)."""
        filed: list[tuple[LeadRegistered, int]] = []
        late: list[LeadReported] = []
        remaining = list(reports)
        conflicts = 0
        while remaining:
            # A registration whose number cannot be read is stepped over like one that does
            # not decode: numbering goes on from the last good one.
            last_sequence, last = await ledger.last_readable(REGISTRATIONS, _numbered)
            run = await self._numbers(ledger, last_sequence, last)
            try:
                while remaining:
                    registered = self._registration(remaining[0], run)
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
                    _logged(registered)
                    self._remember(last_sequence, [(appended.sequence, registered.ledger_number)])
                    conflicts = 0
                    last_sequence = appended.sequence
            except ConcurrencyConflict:
                # Another registration got in first: the rest take the numbers after it.
                # Every lead reported at once can be ahead, so this is tried far more often
                # than a decision on one lead (counted since the last number that held).
                conflicts += 1
                if conflicts >= NUMBERING_ATTEMPTS:
                    raise
        return filed, late

    def _atomic_allowed(self) -> bool:
        return time.monotonic() >= self._atomic_again_at

    async def _numbers(
        self, ledger: EventStore, last_sequence: int, last: StoredEvent | None
    ) -> _Run:
        """Each town's last ledger number (by prefix) as the county's registrations up to
        ``last_sequence`` leave it, and when the last of them was filed; ``last`` is the
        last of them that can be read."""
        previous = last.event if isinstance(last, StoredEvent) else None
        if not isinstance(previous, LeadRegistered):
            previous = None
        run = _Run(filed_at=previous.occurred_at if previous is not None else None)
        if len(self.offices) == 1:
            # One town: its last number is the last registration's.
            number = previous.ledger_number if previous is not None else None
            prefix = prefix_of(number) if number is not None else None
            if prefix is not None and number is not None:
                run.numbers[prefix] = number
            return run
        async with self._folding:
            folded = self._last_numbers
            if folded.upto < last_sequence:
                async for msg in read_messages(
                    self.runtime.js,
                    ledger.stream.value,
                    REGISTRATIONS,
                    folded.upto + 1,
                    stored_headers=True,
                ):
                    sequence = msg.seq or 0
                    if sequence > last_sequence:
                        break
                    folded.fold(sequence, _number_in(msg.subject or "", msg.data, msg.headers))
                folded.upto = max(folded.upto, last_sequence)
            run.numbers.update(folded.by_prefix)
            return run

    def _remember(self, expected: int, stored: Sequence[tuple[int, str]]) -> None:
        """Folds this registrar's own registrations, stored in order right after the
        registration at ``expected`` (the check proved nothing came between), instead of
        reading them back; only when the fold stands exactly there."""
        folded = self._last_numbers
        if folded.upto == expected and not self._folding.locked():
            for sequence, number in stored:
                folded.fold(sequence, number)

    def town_of(self, reported: LeadReported) -> Town:
        """The town a lead belongs to: its village's, else the town of the unit that
        entered it, else the first town."""
        org = self.runtime.org
        return org.town_of(reported.village) or org.town_of(reported.actor.unit) or org.town

    def _registration(self, reported: LeadReported, run: _Run) -> LeadRegistered:
        now = run.filed_at = filing_time(utc_now(), run.filed_at)
        town = self.town_of(reported)
        prefix = town.ledger_prefix
        number = run.numbers[prefix] = next_number(prefix, now, run.numbers.get(prefix))
        office = self.offices[town.code]
        return LeadRegistered(
            event_id=str(uuid.uuid5(_NAMESPACE, f"registered:{reported.lead_id}")),
            lead_id=reported.lead_id,
            ledger_number=number,
            town=town.code,
            unit=office.code,
            reported_at=reported.occurred_at,
            channel=reported.channel,
            category=reported.category,
            summary=reported.summary,
            village=reported.village,
            flags=reported.flags,
            for_committee=self.settings.committee_rule.takes(reported.flags, reported.category),
            occurred_at=now,
            actor=Actor(role=Role.SYSTEM, unit=office.code, user="registrar"),
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
        town = town_of_lead(self.runtime.org, registered)
        return LeadTransferred(
            event_id=str(uuid.uuid5(_NAMESPACE, f"routed:{registered.lead_id}")),
            lead_id=registered.lead_id,
            from_unit=registered.unit,
            to_unit=self.committees[town.code].code,
            reason="涉及党员、公职人员或保护伞，按规定移送纪委 (involves an official or a protective umbrella)",
            actor=Actor(role=Role.SYSTEM, unit=registered.unit, user="registrar"),
            **registered.caused(),
        )


@dataclass
class _Run:
    """What the next registrations are numbered after: each town's last number (by prefix)
    and the filing time of the county's last registration."""

    filed_at: datetime | None
    numbers: dict[str, str] = field(default_factory=dict)


def _unique_reports(events: Sequence[Event]) -> list[LeadReported]:
    """The reports among ``events``, each lead once (a redelivery beside its first delivery)."""
    seen: set[str] = set()
    reports: list[LeadReported] = []
    for event in events:
        if isinstance(event, LeadReported) and event.lead_id not in seen:
            seen.add(event.lead_id)
            reports.append(event)
    return reports


def _batch_logged(reports: Sequence[LeadReported], filed: int, started: float) -> None:
    log.info(
        "registration_batch",
        reports=len(reports),
        filed=filed,
        ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _logged(registered: LeadRegistered) -> None:
    log.info(
        "lead_registered",
        lead_id=registered.lead_id,
        ledger_number=registered.ledger_number,
        event_id=registered.event_id,
    )


def _number_in(subject: str, data: bytes | None, headers: dict[str, str] | None) -> str | None:
    """The ledger number a stored registration carries; None for one that cannot be read
    or was not appended (stepped over, as :meth:`EventStore.last_readable` does)."""
    try:
        event = decode(data or b"", event_type_of(subject))
    except EventDecodeError:
        return None
    if appended_id(headers) != event.event_id or not _numbered(event):
        return None
    return event.ledger_number if isinstance(event, LeadRegistered) else None


def _registration_in(history: Sequence[StoredEvent]) -> LeadRegistered | None:
    for stored in history:
        if isinstance(stored.event, LeadRegistered):
            return stored.event
    return None
