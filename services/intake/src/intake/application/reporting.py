"""Reports: from the public (with a receipt) and entered by staff (by role and channel).

A report is accepted only once JetStream has acknowledged its LeadReported. The reporter's
identity is sealed before anything is published, and its key stored first, so the log
never holds an identity that no key can open, nor a key without its lead. A keyed retry
(Idempotency-Key) claims its key in the database first and gets the same lead back.

Every accepted report is answered with a signed receipt document (intake.signed_receipts)
made from the LeadReported the log holds; it is not kept: a keyed retry gets the same
document again, made again from the log (Ed25519 signs the same bytes the same way).
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
import structlog
from pydantic import BaseModel

from common.auth import Principal
from common.errors import NotPermitted, RuleViolation
from common.events import Actor, Role
from common.events.catalogue import LeadReported, ReporterKind, ReporterRef
from common.eventstore import ConcurrencyConflict
from common.organisation import Organisation, UnitKind
from common.vocabulary import Channel
from intake.commands import EnterLead, ReportContent, ReportPublicly
from intake.domain import lead as decisions
from intake.idempotency import Claim, claim_for
from intake.receipts import new_receipt
from intake.signed_receipts import FileHash, ReceiptFacts, content_sha256
from intake.vault import Identity

if TYPE_CHECKING:
    from intake.application.context import Intake

log = structlog.get_logger(__name__)

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


class ChannelNotAllowed(NotPermitted):
    """This role may not enter leads through this channel (or for this village); ``field``
    names the input at fault, for the importer's row errors."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Accepted:
    lead_id: str
    receipt: str | None = None
    #: the signed receipt document's text (intake.signed_receipts), to be kept as it is
    signed_receipt: str = ""


def public_claim(content: ReportContent, key: str) -> Claim:
    """Bound to the report itself: members of the public share no accounts, so the same
    key sent with another report must not return someone else's lead and receipt."""
    scope = "public:" + hashlib.sha256(_as_json(content)).hexdigest()
    return claim_for(scope, key)


def _as_json(content: ReportContent) -> bytes:
    # The same bytes as the report's form as pydantic writes it (fields in its order,
    # compact, text unescaped), so a retry keeps its claim across versions of intake.
    def part(value: object) -> object:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        raise TypeError(type(value).__name__)

    return orjson.dumps(content, default=part)


async def report_publicly(intake: Intake, command: ReportPublicly) -> Accepted:
    content, key = command.content, command.idempotency_key
    _check_village(intake.org, content.village)
    claim = public_claim(content, key) if key else None
    receipt = new_receipt()
    lead_id = claim.lead_id if claim else uuid.uuid4().hex
    if claim is not None:
        taken = await intake.claims.take(claim, {"lead_id": lead_id, "receipt": receipt})
        if taken.finished:
            lead_id = taken.answer["lead_id"]
            signed = sign_receipt(intake, await _stored_report(intake, lead_id))
            return Accepted(lead_id, taken.answer["receipt"], signed)
        receipt = taken.answer["receipt"]
    receipt_hash = intake.receipts.hash(receipt)
    reported = await _report(intake, lead_id, Channel.WEB, content, PUBLIC, claim, receipt_hash)
    intake.work.report_accepted()
    return Accepted(lead_id, receipt, sign_receipt(intake, reported))


async def enter_lead(intake: Intake, command: EnterLead, principal: Principal) -> Accepted:
    content, channel = command.content, command.channel
    if channel not in CHANNELS_BY_ROLE.get(principal.role, frozenset()):
        raise ChannelNotAllowed(
            f"role '{principal.role.value}' does not enter leads through '{channel.value}'",
            field="channel",
        )
    if principal.role is Role.SCREENER:
        if content.village is None:
            raise RuleViolation(
                "a screener files leads of their own village", "摸排员须填写本村", field="village"
            )
        if content.village != principal.unit:
            raise ChannelNotAllowed(
                "a screener files leads of their own village only", field="village"
            )
    _check_village(intake.org, content.village)
    key = command.idempotency_key
    claim = claim_for(f"user:{principal.user}", key) if key else None
    lead_id = claim.lead_id if claim else command.lead_id or uuid.uuid4().hex
    if claim is not None:
        taken = await intake.claims.take(claim, {"lead_id": lead_id})
        if taken.finished:
            lead_id = taken.answer["lead_id"]
            return Accepted(
                lead_id, None, sign_receipt(intake, await _stored_report(intake, lead_id))
            )
    reported = await _report(intake, lead_id, channel, content, principal.actor, claim)
    return Accepted(lead_id, None, sign_receipt(intake, reported))


def sign_receipt(intake: Intake, reported: LeadReported) -> str:
    """The signed receipt of a report, as the log holds it: never the identity."""
    files = tuple(FileHash(a.sha256, a.size) for a in reported.attachments)
    content = content_sha256(
        category=reported.category.value,
        village=reported.village,
        summary=reported.summary,
        details=reported.details,
        flags=[flag.value for flag in reported.flags],
        attachments=files,
    )
    return intake.signer.sign(ReceiptFacts(reported.lead_id, reported.occurred_at, content, files))


def _check_village(org: Organisation, village: str | None) -> None:
    if village is None:
        return
    unit = org.unit(village)
    if unit is None or unit.kind is not UnitKind.VILLAGE:
        names = ", ".join(f"{v.code} ({v.name})" for v in org.villages)
        raise RuleViolation(
            f"unknown village {village!r}; one of: {names}",
            f"没有这个村 {village!r}；可选：{names}",
            field="village",
        )


async def _report(
    intake: Intake,
    lead_id: str,
    channel: Channel,
    content: ReportContent,
    actor: Actor,
    claim: Claim | None,
    receipt_hash: str | None = None,
) -> LeadReported:
    """Append the report; answer the LeadReported the log holds (on a keyed retry whose
    first attempt was stored, that attempt's)."""
    reporter = ReporterRef(kind=ReporterKind.ANONYMOUS)
    if content.identity is not None:
        reporter = await _seal_identity(intake, lead_id, content.identity)
    event = LeadReported(
        lead_id=lead_id,
        channel=channel,
        category=content.category,
        summary=content.summary,
        details=content.details,
        village=content.village,
        flags=content.flags,
        reporter=reporter,
        attachments=content.attachments,
        receipt_hash=receipt_hash,
        actor=actor,
        **({"event_id": claim.event_id} if claim else {}),
    )
    try:
        await intake.store.append(event, expected_sequence=0)
    except ConcurrencyConflict:
        if claim is None:
            raise
        # The first attempt with this key was stored and then interrupted.
        event = await _stored_report(intake, lead_id)
    except BaseException:
        # A timeout does not say the event is not stored: give the claim back only if it
        # surely did not land (else a retry takes it over). The identity key always stays:
        # deleting it for an event that landed after all would lose the identity; a key
        # whose lead never came is removed later by the retention job.
        if claim is not None:
            with contextlib.suppress(Exception):  # the database may be failing too
                if await _surely_not_stored(intake, event):
                    await intake.claims.release(claim)
                else:
                    await intake.claims.unsettle(claim)
        raise
    if claim is not None:
        await intake.claims.done(claim)
    log.info("lead_reported", lead_id=lead_id, channel=channel.value, event_id=event.event_id)
    return event


async def _stored_report(intake: Intake, lead_id: str) -> LeadReported:
    history = await intake.store.read_lead(lead_id)
    first = history.events[0].event if history.events else None
    if not isinstance(first, LeadReported):
        raise decisions.LeadNotFound
    return first


async def _seal_identity(intake: Intake, lead_id: str, identity: Identity) -> ReporterRef:
    ciphertext, wrapped = intake.vault.seal(lead_id, identity)
    async with intake.engine.begin() as conn:
        if await intake.vault.wrapped_key(conn, lead_id) is None:
            await intake.vault.store_key(conn, lead_id, wrapped)
            return ReporterRef(kind=ReporterKind.NAMED, identity_ciphertext=ciphertext)
    # Only a retried request (same Idempotency-Key, after a crash) gets here: if its first
    # attempt was stored, keep that attempt's sealed identity and key.
    history = (await intake.store.read_lead(lead_id)).events
    if history:
        return decisions.fold(e.event for e in history).reported.reporter
    async with intake.engine.begin() as conn:
        await intake.vault.replace_key(conn, lead_id, wrapped)
    return ReporterRef(kind=ReporterKind.NAMED, identity_ciphertext=ciphertext)


async def _surely_not_stored(intake: Intake, event: LeadReported) -> bool:
    try:
        history = await intake.store.read_lead(event.lead_id)
    except Exception:
        return False
    return all(stored.event.event_id != event.event_id for stored in history.events)
