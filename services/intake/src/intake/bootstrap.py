"""The composition root of the intake service: the only place that names infrastructure."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi import FastAPI
from sqlalchemy import event as sa_event

from common.http_errors import install_error_handlers
from common.reactor import react
from common.service import ServiceRuntime
from common.subjects import Stream
from intake.api import router
from intake.duplicates import DuplicateDetector, matter_metadata
from intake.handlers import Intake
from intake.idempotency import idempotency_metadata
from intake.projection import SUBSCRIPTIONS
from intake.schemas import FIELD_LABELS
from intake.settings import IntakeSettings
from intake.vault import vault_metadata

log = structlog.get_logger(__name__)


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(settings, title="Intake: 24-hour lead intake with reporter protection")
    if runtime.database.url.get_backend_name() == "sqlite":
        # A destroyed key must not linger in SQLite's free pages.
        for engine in (runtime.database.sync_engine, runtime.database.async_engine.sync_engine):
            sa_event.listen(engine, "connect", _secure_delete)
    intake = Intake(runtime, settings)
    runtime.app.state.intake = intake
    runtime.project(*SUBSCRIPTIONS)
    react(
        runtime,
        name="duplicates",
        stream=Stream.INTAKE,
        subject="intake.lead.*.LeadReported",
        handler=DuplicateDetector(runtime, settings.duplicate_similarity),
    )

    async def prepare() -> None:
        await asyncio.to_thread(
            runtime.database.create_all, vault_metadata, idempotency_metadata, matter_metadata
        )

    async def start() -> None:
        retention = asyncio.create_task(_keep_retention(intake, settings.retention_check_seconds))

        async def stop() -> None:
            retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retention

        runtime.on_stop(stop)

    runtime.on_prepare(prepare)
    runtime.on_start(start)
    install_error_handlers(runtime.app, FIELD_LABELS)
    runtime.app.include_router(router)
    return runtime.app


async def _keep_retention(intake: Intake, every: float) -> None:
    """Shred identities past their retention period and forget old idempotency claims."""
    while True:
        try:
            shredded = await intake.shred_expired()
            forgotten = await intake.claims.forget_old()
            if shredded or forgotten:
                log.info("retention_done", identities_shredded=shredded, claims_forgotten=forgotten)
        except Exception:
            log.exception("retention_failed")
        await asyncio.sleep(every)


def _secure_delete(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
