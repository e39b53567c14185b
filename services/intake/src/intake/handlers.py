"""Intake's command handlers: HTTP commands -> domain decisions -> JetStream.

A report is accepted (201) only once JetStream has acknowledged its LeadReported. The
reporter's identity is sealed before anything is published, and its key stored first, so
the log never holds an identity that no key can open, nor a key without its lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import structlog
from prometheus_client import Counter
from sqlalchemy import delete, select

from common.auth import Principal
from common.events import Actor, Event, Role, utc_now
from common.events.catalogue import (
    Attachment,
    LeadReported,
    ReporterKind,
    ReporterRef,
)
from common.eventstore import ConcurrencyConflict, EventStore
from common.http_errors import field_error
from common.organisation import Organisation, UnitKind
from common.service import ServiceRuntime
from common.subjects import Stream
from common.vocabulary import Channel
from intake.domain import lead as decisions
from intake.idempotency import Claim, Claims, claim_for
from intake.projection.queries import (
    ReceiptView,
    by_receipt,
    due_for_shredding,
    shredded_but_key_kept,
)
from intake.projection.tables import reports
from intake.receipts import ReceiptKeeper, new_receipt
from intake.schemas import AttachmentIn, LeadContent, ReporterMessage
from intake.settings import IntakeSettings
from intake.vault import Identity, Vault, identity_keys, scrub_destroyed_keys
from intake.work import PublicWork, work_key

log = structlog.get_logger(__name__)

RECEIPT_MISSES: Final = Counter(
    "intake_receipt_misses_total", "Look-ups with a receipt that answers to no report"
)
_SHRED_ATTEMPTS: Final = 5
_SCRUB_ATTEMPTS: Final = 5

PUBLIC = Actor(role=Role.REPORTER)

# Which channels each staff role types leads in from (a screener: their own village only).
CHANNELS_BY_ROLE: dict[Role, frozenset[Channel]] = {
    Role.SCREENER: frozenset({Channel.VILLAGE_SCREENING}),
    Role.POLICE: frozenset({Channel.POLICE_INCIDENT}),
    Role.JUDICIAL: frozenset({Channel.JUDICIAL_OFFICE}),
    Role.CLERK: frozenset(Channel) - {Channel.WEB},
    Role.OFFICE: frozenset(Channel) - {Channel.WEB},
    Role.ADMIN: frozenset(Channel) - {Channel.WEB},
}
STAFF_ROLES = tuple(CHANNELS_BY_ROLE)


class ChannelNotAllowed(Exception):
    """This role may not enter leads through this channel (or for this village)."""


class ReceiptUnknown(Exception):
    """No report answers to this receipt."""


def public_claim(content: LeadContent, key: str) -> Claim:
    """Bound to the report itself: members of the public share no accounts, so the same
    key sent with another report must not return someone else's lead and receipt."""
    scope = "public:" + hashlib.sha256(content.model_dump_json().encode()).hexdigest()
    return claim_for(scope, key)


@dataclass(frozen=True)
class Accepted:
    lead_id: str
    receipt: str | None = None


class Intake:
    def __init__(self, runtime: ServiceRuntime, settings: IntakeSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.org: Organisation = runtime.org
        self.vault = Vault(settings.identity_key_bytes)
        self.receipts = ReceiptKeeper(settings.receipt_key_bytes)
        self.work = PublicWork(
            runtime.database.async_engine,
            work_key(settings.receipt_key_bytes),
            report_bits=settings.work_bits_report,
            receipt_bits=settings.work_bits_receipt,
            usual_reports_per_hour=settings.usual_public_reports_per_hour,
        )
        # Whether a destroyed key may still sit in a database file (scrub_destroyed_keys);
        # true at start, since a process that stopped mid-shred left no note of it.
        self._scrub_pending = True
        self.claims = Claims(runtime.database.async_engine)

    @property
    def store(self) -> EventStore:
        return self.runtime.store(Stream.INTAKE)

    # --- reporting ------------------------------------------------------------------

    async def report_public(self, content: LeadContent, idempotency_key: str | None) -> Accepted:
        self._check_village(content.village)
        claim = public_claim(content, idempotency_key) if idempotency_key else None
        receipt = new_receipt()
        lead_id = claim.lead_id if claim else uuid.uuid4().hex
        if claim is not None:
            taken = await self.claims.take(claim, {"lead_id": lead_id, "receipt": receipt})
            if taken.finished:
                return Accepted(taken.answer["lead_id"], taken.answer["receipt"])
            receipt = taken.answer["receipt"]
        await self._report(
            lead_id, Channel.WEB, content, PUBLIC, claim, receipt_hash=self.receipts.hash(receipt)
        )
        self.work.report_accepted()
        return Accepted(lead_id, receipt)

    async def enter_staff(
        self,
        content: LeadContent,
        channel: Channel,
        principal: Principal,
        idempotency_key: str | None,
        lead_id: str | None = None,
    ) -> Accepted:
        """A lead typed in by staff. ``lead_id`` is given by the importer (derived from the
        row), so a second import of the same row conflicts instead of duplicating."""
        if channel not in CHANNELS_BY_ROLE.get(principal.role, frozenset()):
            raise ChannelNotAllowed(
                f"role '{principal.role.value}' does not enter leads through '{channel.value}'"
            )
        if principal.role is Role.SCREENER:
            if content.village is None:
                raise field_error(
                    "village", "a screener files leads of their own village", "摸排员须填写本村"
                )
            if content.village != principal.unit:
                raise ChannelNotAllowed("a screener files leads of their own village only")
        self._check_village(content.village)
        claim = claim_for(f"user:{principal.user}", idempotency_key) if idempotency_key else None
        lead_id = claim.lead_id if claim else lead_id or uuid.uuid4().hex
        if claim is not None:
            taken = await self.claims.take(claim, {"lead_id": lead_id})
            if taken.finished:
                return Accepted(taken.answer["lead_id"])
        await self._report(lead_id, channel, content, principal.actor, claim)
        return Accepted(lead_id)

    async def _report(
        self,
        lead_id: str,
        channel: Channel,
        content: LeadContent,
        actor: Actor,
        claim: Claim | None,
        receipt_hash: str | None = None,
    ) -> None:
        reporter = ReporterRef(kind=ReporterKind.ANONYMOUS)
        if content.identity is not None:
            reporter = await self._seal_identity(lead_id, content.identity)
        event = LeadReported(
            lead_id=lead_id,
            channel=channel,
            category=content.category,
            summary=content.summary,
            details=content.details,
            village=content.village,
            flags=tuple(content.flags),
            reporter=reporter,
            attachments=_attachments(content.attachments),
            receipt_hash=receipt_hash,
            actor=actor,
            **({"event_id": claim.event_id} if claim else {}),
        )
        try:
            await self.store.append(event, expected_sequence=0)
        except ConcurrencyConflict:
            if claim is None:
                raise
            # The first attempt with this key was stored and then interrupted.
        except BaseException:
            # A timeout does not say the event is not stored: give the claim back only if
            # it surely did not land (else a retry takes it over). The identity key always
            # stays: deleting it for an event that landed after all would lose the identity;
            # a key whose lead never came is removed later by the retention job.
            if claim is not None:
                with contextlib.suppress(Exception):  # the database may be failing too
                    if await self._surely_not_stored(event):
                        await self.claims.release(claim)
                    else:
                        await self.claims.unsettle(claim)
            raise
        if claim is not None:
            await self.claims.done(claim)
        log.info("lead_reported", lead_id=lead_id, channel=channel.value, event_id=event.event_id)

    async def _seal_identity(self, lead_id: str, identity: Identity) -> ReporterRef:
        ciphertext, wrapped = self.vault.seal(lead_id, identity)
        async with self.runtime.database.async_engine.begin() as conn:
            if await self.vault.wrapped_key(conn, lead_id) is None:
                await self.vault.store_key(conn, lead_id, wrapped)
                return ReporterRef(kind=ReporterKind.NAMED, identity_ciphertext=ciphertext)
        # Only a retried request (same Idempotency-Key, after a crash) gets here: if its
        # first attempt was stored, keep that attempt's sealed identity and key.
        history = (await self.store.read_lead(lead_id)).events
        if history:
            return decisions.fold(e.event for e in history).reported.reporter
        async with self.runtime.database.async_engine.begin() as conn:
            await self.vault.replace_key(conn, lead_id, wrapped)
        return ReporterRef(kind=ReporterKind.NAMED, identity_ciphertext=ciphertext)

    async def _surely_not_stored(self, event: LeadReported) -> bool:
        try:
            history = await self.store.read_lead(event.lead_id)
        except Exception:
            return False
        return all(stored.event.event_id != event.event_id for stored in history.events)

    def _check_village(self, village: str | None) -> None:
        if village is None:
            return
        unit = self.org.unit(village)
        if unit is None or unit.kind is not UnitKind.VILLAGE:
            names = ", ".join(f"{v.code} ({v.name})" for v in self.org.villages)
            raise field_error(
                "village",
                f"unknown village {village!r}; one of: {names}",
                f"没有这个村 {village!r}；可选：{names}",
            )

    # --- the receipt holder -------------------------------------------------------

    async def status(self, receipt: str) -> ReceiptView:
        view = await self._by_receipt(receipt)
        return view

    async def add(self, receipt: str, message: ReporterMessage) -> str:
        view = await self._by_receipt(receipt)
        lead = decisions.fold(e.event for e in (await self.store.read_lead(view.lead_id)).events)
        if message.kind == "supplement":
            event: Event = decisions.supplement(
                lead, message.text, _attachments(message.attachments), PUBLIC
            )
        else:
            event = decisions.post_message(lead, message.text, PUBLIC)
        await self.store.append(event)
        return event.event_id

    async def _by_receipt(self, receipt: str) -> ReceiptView:
        receipt_hash = self.receipts.hash(receipt)
        view = None
        if receipt_hash is not None:
            async with self.runtime.database.async_engine.connect() as conn:
                view = await by_receipt(conn, receipt_hash)
        if view is None:
            RECEIPT_MISSES.inc()
            raise ReceiptUnknown
        return view

    # --- identity custody ---------------------------------------------------------

    async def disclose(self, lead_id: str, reason: str, principal: Principal) -> Identity:
        history = await self.store.read_lead(lead_id)
        lead = decisions.fold(e.event for e in history.events)
        event = decisions.disclose(lead, reason, principal.actor)
        async with self.runtime.database.async_engine.connect() as conn:
            wrapped = await self.vault.wrapped_key(conn, lead_id)
        identity = self.vault.open(lead_id, lead.ciphertext or "", wrapped)
        # Recorded before it is shown: a disclosure nobody can see happened must not exist.
        await self.store.append(event, expected_sequence=history.last_sequence)
        log.warning("identity_disclosed", lead_id=lead_id, event_id=event.event_id)
        return identity

    async def shred(self, lead_id: str, reason: str, actor: Actor) -> None:
        """Record the shredding, then destroy the key, then scrub the database files.

        Recorded first: a key destroyed with no event saying who did it and when must not
        happen. Shredding does not depend on what else happened to the lead, so an append
        that lost a race (the duplicate detector may append meanwhile) is decided again on
        the new history. Should the process die after the append, the key is destroyed by
        the next call or by the retention job (``finish_shredding``)."""
        for _ in range(_SHRED_ATTEMPTS):
            history = await self.store.read_lead(lead_id)
            lead = decisions.fold(e.event for e in history.events)
            try:
                event = decisions.shred(lead, reason, actor)
            except decisions.IdentityAlreadyShredded:
                await self._destroy_key(lead_id)
                raise
            try:
                await self.store.append(event, expected_sequence=history.last_sequence)
                break
            except ConcurrencyConflict:
                continue
        else:
            raise ConcurrencyConflict(lead_id, history.last_sequence)
        log.warning("identity_shredded", lead_id=lead_id, event_id=event.event_id)
        await self._destroy_key(lead_id)

    async def _destroy_key(self, lead_id: str) -> None:
        async with self.runtime.database.async_engine.begin() as conn:
            destroyed = await self.vault.shred(conn, lead_id, utc_now())
        if destroyed:
            self._scrub_pending = True
            await self.scrub()

    async def scrub(self) -> bool:
        """Make destroyed keys unrecoverable from the database's files (WAL, free pages,
        dead row versions); retried in the background until it succeeds."""
        if not self._scrub_pending:
            return True
        # Short transactions (a projection batch, a report) hold the old row version or
        # the log for a moment: a few quick tries usually finish it while the custodian
        # waits for the answer.
        for attempt in range(_SCRUB_ATTEMPTS):
            if await asyncio.to_thread(scrub_destroyed_keys, self.runtime.database.sync_engine):
                self._scrub_pending = False
                log.info("identity_keys_scrubbed")
                return True
            await asyncio.sleep(0.1 * (attempt + 1))
        log.warning("identity_key_scrub_postponed", reason="database busy")
        return False

    async def finish_shredding(self) -> int:
        """Destroy the keys of leads whose shredding was recorded but not carried out (the
        process stopped in between)."""
        async with self.runtime.database.async_engine.connect() as conn:
            due = await shredded_but_key_kept(conn)
        for lead_id in due:
            await self._destroy_key(lead_id)
        return len(due)

    async def apply_retention(self) -> None:
        """Shred identities past their retention period; forget old idempotency claims and
        the keys of reports that never reached the log."""
        shredded = await self.shred_expired() + await self.finish_shredding()
        forgotten = await self.claims.forget_old() + await self.work.forget_spent()
        orphans = await self.forget_orphan_keys()
        if shredded or forgotten or orphans:
            log.info(
                "retention_done",
                identities_shredded=shredded,
                claims_forgotten=forgotten,
                orphan_keys_removed=orphans,
            )

    async def forget_orphan_keys(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Remove identity keys of reports whose publication failed (no LeadReported in the
        log a day later): they seal nothing anyone can ever read."""
        async with self.runtime.database.async_engine.connect() as conn:
            rows = await conn.execute(
                select(identity_keys.c.lead_id).where(
                    (identity_keys.c.created_at < utc_now() - older_than)
                    & identity_keys.c.lead_id.not_in(select(reports.c.lead_id))
                )
            )
            candidates = [r.lead_id for r in rows]
        removed = 0
        for lead_id in candidates:
            if (await self.store.read_lead(lead_id)).events:
                continue  # in the log after all; the read model will catch up
            async with self.runtime.database.async_engine.begin() as conn:
                await conn.execute(delete(identity_keys).where(identity_keys.c.lead_id == lead_id))
            removed += 1
        return removed

    async def shred_expired(self) -> int:
        """Shred the identities of leads archived longer ago than the retention period."""
        cutoff = utc_now() - self.settings.retention
        async with self.runtime.database.async_engine.connect() as conn:
            due = await due_for_shredding(conn, cutoff)
        retention = Actor(role=Role.SYSTEM, user="retention")
        shredded = 0
        for lead_id in due:
            try:
                await self.shred(lead_id, "retention period after archiving expired", retention)
                shredded += 1
            except (decisions.IdentityAlreadyShredded, decisions.NotNamed, ConcurrencyConflict):
                continue
        return shredded


def _attachments(items: Sequence[AttachmentIn]) -> tuple[Attachment, ...]:
    return tuple(Attachment(name=a.name, size=a.size, sha256=a.sha256) for a in items)
