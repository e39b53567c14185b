"""The composition root of the oversight service: the only place that names infrastructure."""

from __future__ import annotations

from fastapi import FastAPI

from common.batched import react_in_batches
from common.heap import freeze_startup_heap
from common.http_errors import install_error_handlers
from common.schema import manage_schema
from common.service import ServiceRuntime
from common.subjects import Stream
from oversight.api import router
from oversight.application import Oversight
from oversight.conflict_api import router as conflict
from oversight.pages import install_pages
from oversight.projection import SUBSCRIPTIONS
from oversight.schemas import FIELD_LABELS
from oversight.settings import OversightSettings
from oversight.tasks_api import router as tasks


def create_app(settings: OversightSettings | None = None) -> FastAPI:
    settings = settings or OversightSettings()
    runtime = ServiceRuntime(
        settings,
        title="Oversight: discipline committee supervision, accountability and access audit",
    )
    oversight = Oversight(runtime, settings)
    runtime.app.state.oversight = oversight
    runtime.project(*SUBSCRIPTIONS)
    manage_schema(runtime, "oversight")
    # Every report comes by, and only a few open a case: taken in batches, a flagged one
    # does not wait behind a pull request for each report before it.
    react_in_batches(
        runtime,
        name="cases-from-reports",
        stream=Stream.INTAKE,
        subject="intake.lead.*.LeadReported",
        one=oversight.on_reported,
        many=oversight.reports_in_batches(),
    )
    react_in_batches(
        runtime,
        name="cases-from-transfers",
        stream=Stream.LEDGER,
        subject="ledger.lead.*.LeadTransferred",
        one=oversight.on_transferred,
    )

    freeze_startup_heap(runtime)
    runtime.every(settings.rules_check_seconds, oversight.apply_rules, "supervision-rules")
    install_error_handlers(runtime.app, FIELD_LABELS)
    runtime.app.include_router(router)
    runtime.app.include_router(tasks)
    runtime.app.include_router(conflict)
    install_pages(runtime.app)
    return runtime.app
