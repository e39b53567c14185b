"""Reporters' evidence files: added with the receipt, read by staff, their key destroyed.

An upload is judged before its bytes are stored: the lead must have room for another file
and its key must live (asked before the body is read), the type is sniffed from the first
bytes. A photo is then held whole (bounded by ``evidence_photo_max_bytes``) to find and, as
asked, strip its metadata; anything else is sealed a chunk at a time as it arrives and
spooled, never whole in memory. Only once all of it came within its limit, and the lead
still has room and its key (asked again then), does it go to the bucket
(common.evidence.EvidenceStore.put); the file is recorded (EvidenceAttached) once stored.
The bucket is append-only: what reaches it stays, so a refusal must come before.

Staff reach a lead's files only if they may read the lead (common.visibility, through
intake.application.lead_access): a lead they may not read is one that does not exist.
Every download is recorded on AUDIT before a byte is sent. Destroying the key is recorded
first (EvidenceKeyDestroyed), then the key goes and the database is scrubbed as after an
identity's shredding.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from common.application import retry_on_conflict
from common.auth import Principal
from common.events import utc_now
from common.events.catalogue import LeadViewed
from common.events.evidence import EvidenceAttached
from common.evidence import (
    CHUNK_BYTES,
    EvidenceStore,
    EvidenceTooLarge,
    EvidenceUnreadable,
    evidence_bucket,
)
from common.evidence_files import SNIFF_BYTES, Kind, MarkerScan, inspect_photo, sniff
from common.subjects import Service
from intake.application.lead_access import check_may_read
from intake.application.receipt_holder import status
from intake.application.reporting import PUBLIC
from intake.domain import evidence as decisions
from intake.domain import lead as leads
from intake.evidence_keys import EvidenceKeys
from intake.projection.tables import reports

if TYPE_CHECKING:
    from intake.application.context import Intake

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Upload:
    receipt: str
    body: AsyncIterable[bytes]
    #: the reporter asks for location and author fields to be taken out of a photo
    strip_metadata: bool


class _HeldAlready(Exception):
    def __init__(self, attached: EvidenceAttached) -> None:
        super().__init__(attached.file_id)
        self.attached = attached


@dataclass(frozen=True)
class Export:
    files: tuple[EvidenceAttached, ...]
    #: a file's plaintext, a chunk at a time
    read: Callable[[EvidenceAttached], AsyncIterator[bytes]]
    ledger_number: str | None


@dataclass(frozen=True)
class Download:
    attached: EvidenceAttached
    chunks: AsyncIterator[bytes]


class Evidence:
    """What the evidence commands share: the bucket and the key store."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.keys = EvidenceKeys(intake.engine, intake.settings.identity_key_bytes)

    @property
    def store(self) -> EvidenceStore:
        return EvidenceStore(self.intake.runtime.js, evidence_bucket(Service.INTAKE))

    async def evidence(self, lead_id: str) -> tuple[leads.IntakeLead, decisions.LeadEvidence, int]:
        history = await self.intake.store.read_lead(lead_id)
        events = [e.event for e in history.events]
        return leads.fold(events), decisions.evidence_of(events), history.last_sequence

    async def upload(self, command: Upload) -> EvidenceAttached:
        settings = self.intake.settings
        lead_id = (await status(self.intake, command.receipt)).lead_id
        _, evidence, _ = await self.evidence(lead_id)
        decisions.check_room(evidence, settings.evidence_max_files)
        body = aiter(command.body)
        head = await _first_bytes(body, SNIFF_BYTES)
        media_type, kind = sniff(head)
        key = await self.keys.for_new_file(lead_id)
        if kind is Kind.PHOTO:
            whole = await _whole(head, body, settings.evidence_photo_max_bytes)
            photo = await asyncio.to_thread(
                inspect_photo, whole, media_type, command.strip_metadata
            )
            content: AsyncIterable[bytes] = _pieces(photo.data)
            metadata = (photo.metadata_found, photo.stripped)
        else:
            scan = MarkerScan(kind)
            content = _scanned(head, body, scan)

        async def still_room(sha256: str) -> None:
            # The last slot taken or the key destroyed while the file came: refused now,
            # before a byte of it reaches the append-only bucket. The same file sent again
            # (a form sent twice, a retry after a lost answer) is the one held.
            _, now, _ = await self.evidence(lead_id)
            held = decisions.held_already(now, sha256)
            if held is not None:
                raise _HeldAlready(held)
            decisions.check_room(now, settings.evidence_max_files)
            await self.keys.key(lead_id)

        try:
            stored = await self.store.put(
                key, content, settings.evidence_max_bytes, before_publish=still_room
            )
        except _HeldAlready as same:
            log.info("evidence_held_already", lead_id=lead_id, file_id=same.attached.file_id)
            return same.attached
        if kind is not Kind.PHOTO:
            metadata = (scan.found, False)

        async def record() -> EvidenceAttached:
            lead, evidence, sequence = await self.evidence(lead_id)
            # The same file sent twice at once: the other upload recorded it meanwhile,
            # and this copy stays in the bucket named by no event, as a refused one does.
            held = decisions.held_already(evidence, stored.sha256)
            if held is not None:
                return held
            attached = decisions.attach(
                lead,
                evidence,
                decisions.Stored(stored.name, stored.size, stored.sha256, media_type),
                metadata,
                settings.evidence_max_files,
                PUBLIC,
            )
            await self.intake.store.append(attached, expected_sequence=sequence)
            return attached

        # Refused now (the last slot taken, or the key destroyed, between the look before
        # publishing and this append: a moment's race), the object stays in the
        # append-only bucket, named by no event: nothing ever serves it.
        attached = await retry_on_conflict(record)
        if attached.file_id != stored.name:
            log.info("evidence_held_already", lead_id=lead_id, file_id=attached.file_id)
        else:
            log.info("evidence_attached", lead_id=lead_id, file_id=stored.name, size=stored.size)
        return attached

    async def visible(
        self, lead_id: str, principal: Principal
    ) -> tuple[leads.IntakeLead, decisions.LeadEvidence, int]:
        """The lead's evidence, for a principal who may read the lead (LeadNotFound, as
        for no such lead, for one who may not)."""
        lead, evidence, sequence = await self.evidence(lead_id)
        await check_may_read(self.intake, lead, principal)
        return lead, evidence, sequence

    async def files(self, lead_id: str, principal: Principal) -> decisions.LeadEvidence:
        """The lead's files as the log records them (LeadNotFound for no such lead)."""
        _, evidence, _ = await self.visible(lead_id, principal)
        return evidence

    async def download(self, lead_id: str, file_id: str, principal: Principal) -> Download:
        """The file's plaintext, a chunk at a time; the read recorded before it is given."""
        _, evidence, _ = await self.visible(lead_id, principal)
        attached = decisions.file_of(evidence, file_id)
        if evidence.key_destroyed:
            raise decisions.EvidenceKeyGone
        key = await self.keys.key(lead_id)
        assert key is not None  # noqa: S101 - key() raises for a lead without one
        await self._read_recorded(lead_id, file_id, principal)
        return Download(attached, await self._opened(key, file_id))

    async def export(self, lead_id: str, principal: Principal) -> Export:
        """Every file of the lead, for its case file: each read recorded (one per file, as
        a download is) before the first byte; EvidenceKeyGone once the key is destroyed."""
        _, evidence, _ = await self.visible(lead_id, principal)
        if evidence.key_destroyed:
            raise decisions.EvidenceKeyGone
        key = await self.keys.key(lead_id) if evidence.files else None
        for attached in evidence.files:
            await self._read_recorded(lead_id, attached.file_id, principal, " (ZIP)")
        # The first file opened before answering, as for one download.
        opened = (
            {evidence.files[0].file_id: await self._opened(key, evidence.files[0].file_id)}
            if key is not None
            else {}
        )

        def read(attached: EvidenceAttached) -> AsyncIterator[bytes]:
            assert key is not None  # noqa: S101 - a lead with files has its key
            return opened.pop(attached.file_id, None) or self.store.get(key, attached.file_id)

        return Export(evidence.files, read, await self.ledger_number(lead_id))

    async def ledger_number(self, lead_id: str) -> str | None:
        """The lead's ledger number, once intake has heard the ledger filed it."""
        async with self.intake.engine.connect() as conn:
            number = await conn.scalar(
                select(reports.c.ledger_number).where(reports.c.lead_id == lead_id)
            )
        return str(number) if number else None

    async def _read_recorded(
        self, lead_id: str, file_id: str, principal: Principal, how: str = ""
    ) -> None:
        await self.intake.runtime.record_access(
            LeadViewed(
                lead_id=lead_id,
                service=Service.INTAKE.value,
                purpose=f"evidence file {file_id}{how}",
                actor=principal.actor,
            )
        )

    async def _opened(self, key: bytes, file_id: str) -> AsyncIterator[bytes]:
        """The file's chunks, the first opened already: a key that does not open it is a
        410 now, not a broken download or a ZIP cut short later."""
        chunks = self.store.get(key, file_id)
        try:
            first = await anext(chunks)
        except (EvidenceUnreadable, StopAsyncIteration):
            raise decisions.EvidenceKeyGone from None
        return _then(first, chunks)

    async def destroy_key(self, lead_id: str, reason: str, principal: Principal) -> None:
        """Record the destruction, then destroy the key, then scrub the database's files.
        Recorded first, as a shredding is: no key goes without an event saying who and
        when. Should the process die in between, calling again finishes it."""
        lead, evidence, sequence = await self.visible(lead_id, principal)
        try:
            event = decisions.destroy_key(lead, evidence, reason, principal.actor)
        except decisions.EvidenceKeyGone:
            await self._destroy(lead_id)
            raise
        await self.intake.store.append(event, expected_sequence=sequence)
        log.warning("evidence_key_destroyed", lead_id=lead_id, event_id=event.event_id)
        await self._destroy(lead_id)

    async def _destroy(self, lead_id: str) -> None:
        async with self.intake.engine.begin() as conn:
            destroyed = await self.keys.destroy(conn, lead_id, utc_now())
        if destroyed:
            self.intake.scrubber.pending = True
            await self.intake.scrubber.scrub()


async def _first_bytes(body: AsyncIterator[bytes], wanted: int) -> bytes:
    head = bytearray()
    async for part in body:
        head += part
        if len(head) >= wanted:
            break
    return bytes(head)


async def _whole(head: bytes, body: AsyncIterator[bytes], limit: int) -> bytes:
    data = bytearray(head)
    if len(data) > limit:
        raise EvidenceTooLarge(limit)
    async for part in body:
        data += part
        if len(data) > limit:
            raise EvidenceTooLarge(limit)
    return bytes(data)


async def _pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


async def _scanned(
    head: bytes, body: AsyncIterator[bytes], scan: MarkerScan
) -> AsyncIterator[bytes]:
    scan.feed(head)
    yield head
    async for part in body:
        scan.feed(part)
        yield part


async def _then(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk
