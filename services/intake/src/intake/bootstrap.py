"""The composition root of the intake service: the only place that names infrastructure."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import event as sa_event

from common.growth import StreamGrowth
from common.heap import freeze_startup_heap
from common.http_errors import install_error_handlers
from common.schema import manage_schema
from common.service import ServiceRuntime
from common.subjects import Stream
from intake.api import EXCEPTION_HANDLERS, router
from intake.application import Intake
from intake.application.evidence import Evidence
from intake.evidence_api import install_evidence
from intake.identity_requests_api import router as identity_requests
from intake.importer import MULTIPART_ENVELOPE
from intake.matching import check_duplicates
from intake.pages import install_pages
from intake.projection import SUBSCRIPTIONS
from intake.schemas import FIELD_LABELS
from intake.settings import IntakeSettings

# A scrub postponed because the database was busy is tried again this often.
SCRUB_RETRY_SECONDS = 30.0
GROWTH_SAMPLE_SECONDS = 60.0


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(settings, title="Intake: 24-hour lead intake with reporter protection")
    if runtime.database.url.get_backend_name() == "sqlite":
        # Intake's database holds the identity keys, which no replay can bring back: every
        # commit reaches the disk, and a destroyed key must not linger in free pages.
        for engine in (runtime.database.sync_engine, runtime.database.async_engine.sync_engine):
            sa_event.listen(engine, "connect", _keys_are_not_rebuildable)
    runtime.allow_body("/v1/leads/import", settings.import_max_bytes + MULTIPART_ENVELOPE)
    intake = Intake(runtime, settings)
    runtime.app.state.intake = intake
    runtime.project(*SUBSCRIPTIONS)
    check_duplicates(runtime, settings.duplicate_similarity)

    # The key store, idempotency claims, matters and spent work: intake.migrations.
    manage_schema(runtime, "intake")
    freeze_startup_heap(runtime)
    runtime.every(settings.retention_check_seconds, intake.apply_retention, "retention")
    runtime.every(SCRUB_RETRY_SECONDS, intake.scrub, "identity-key-scrub")
    growth = StreamGrowth(
        runtime, [Stream.INTAKE], alarm_bytes_per_hour=settings.stream_growth_alarm_bytes_per_hour
    )
    runtime.every(GROWTH_SAMPLE_SECONDS, growth.sample, "stream-growth")
    install_error_handlers(runtime.app, FIELD_LABELS)
    for refusal, answer in EXCEPTION_HANDLERS.items():
        runtime.app.add_exception_handler(refusal, answer)
    runtime.app.include_router(router)
    install_evidence(runtime, Evidence(intake))
    runtime.app.include_router(identity_requests)
    install_pages(runtime, settings.import_max_bytes)
    return runtime.app


def _keys_are_not_rebuildable(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
