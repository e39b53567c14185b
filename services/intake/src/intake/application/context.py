"""The intake service's context: what every command and job shares (the log, the database,
the vault, the receipts, the idempotency claims, the public's proof of work), and one entry
point per command or job, each a call into the module that holds it."""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncEngine

from common.auth import Principal
from common.eventstore import EventStore
from common.organisation import Organisation
from common.service import ServiceRuntime
from common.subjects import Stream
from intake.application import custody, identity_requests, receipt_holder, reporting, retention
from intake.application.custody import KeyScrubber
from intake.application.receipt_holder import FollowedReport
from intake.application.reporting import Accepted
from intake.commands import (
    AddToReport,
    AskForIdentity,
    DecideOnIdentity,
    DiscloseIdentity,
    EnterLead,
    ReadIdentity,
    ReportPublicly,
    ShredIdentity,
)
from intake.domain import lead as decisions
from intake.domain.custody import AccessRequest
from intake.idempotency import Claims
from intake.projection.queries import ReceiptView
from intake.receipts import ReceiptKeeper
from intake.settings import IntakeSettings
from intake.signed_receipts import ReceiptSigner, Verdict
from intake.vault import Identity, Vault
from intake.work import PublicWork, work_key


class Intake:
    def __init__(self, runtime: ServiceRuntime, settings: IntakeSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.org: Organisation = runtime.org
        self.vault = Vault(settings.identity_key_bytes)
        self.receipts = ReceiptKeeper(settings.receipt_key_bytes)
        self.signer = ReceiptSigner(
            settings.signing_key_bytes, settings.retired_signing_public_keys
        )
        self.work = PublicWork(
            runtime.database.async_engine,
            work_key(settings.receipt_key_bytes),
            report_bits=settings.work_bits_report,
            receipt_bits=settings.work_bits_receipt,
            usual_reports_per_hour=settings.usual_public_reports_per_hour,
        )
        self.claims = Claims(runtime.database.async_engine)
        self.scrubber = KeyScrubber(runtime.database.sync_engine)

    @property
    def store(self) -> EventStore:
        return self.runtime.store(Stream.INTAKE)

    @property
    def engine(self) -> AsyncEngine:
        return self.runtime.database.async_engine

    async def load(self, lead_id: str) -> tuple[decisions.IntakeLead, int]:
        """The lead as intake knows it, and the sequence to append after (LeadNotFound if
        it was never reported here)."""
        history = await self.store.read_lead(lead_id)
        return decisions.fold(e.event for e in history.events), history.last_sequence

    # --- reporting ------------------------------------------------------------------

    async def report_public(self, command: ReportPublicly) -> Accepted:
        return await reporting.report_publicly(self, command)

    async def enter_staff(self, command: EnterLead, principal: Principal) -> Accepted:
        return await reporting.enter_lead(self, command, principal)

    # --- the receipt holder ---------------------------------------------------------

    async def status(self, receipt: str) -> ReceiptView:
        return await receipt_holder.status(self, receipt)

    async def follow(self, receipt: str) -> FollowedReport:
        return await receipt_holder.follow(self, receipt)

    async def add(self, command: AddToReport) -> str:
        return await receipt_holder.add_to_report(self, command)

    def verify_receipt(self, document: bytes | str) -> Verdict:
        """Whether a signed receipt document is one intake issued, unchanged (no effect)."""
        return self.signer.verify(document)

    # --- identity custody -----------------------------------------------------------

    async def disclose(self, command: DiscloseIdentity) -> NoReturn:
        await custody.disclose_identity(self, command)

    async def ask_for_identity(
        self, command: AskForIdentity, principal: Principal
    ) -> AccessRequest:
        return await identity_requests.ask(self, command, principal)

    async def decide_on_identity(
        self, command: DecideOnIdentity, principal: Principal
    ) -> AccessRequest:
        return await identity_requests.decide(self, command, principal)

    async def read_identity(self, command: ReadIdentity, principal: Principal) -> Identity:
        return await identity_requests.read(self, command, principal)

    async def identity_requests(self, lead_id: str, principal: Principal) -> list[AccessRequest]:
        return await identity_requests.listed(self, lead_id, principal)

    async def shred(self, command: ShredIdentity, principal: Principal) -> None:
        await custody.shred_identity(self, command, principal.actor, principal)

    async def scrub(self) -> bool:
        return await self.scrubber.scrub()

    # --- retention ------------------------------------------------------------------

    async def apply_retention(self) -> None:
        await retention.apply_retention(self)

    async def shred_expired(self) -> int:
        return await retention.shred_expired(self)

    async def finish_shredding(self) -> int:
        return await retention.finish_shredding(self)

    async def forget_orphan_keys(self, older_than: timedelta = retention.ORPHANED_AFTER) -> int:
        return await retention.forget_orphan_keys(self, older_than)
