"""The composition root of the ledger service: the only place that names infrastructure."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from common.batched import react_in_batches
from common.heap import freeze_startup_heap
from common.http_errors import install_error_handlers
from common.migrations import schema_lock
from common.reactor import react
from common.schema import manage_schema
from common.service import ServiceRuntime
from common.subjects import Stream
from ledger import fastreads
from ledger.api import router
from ledger.application import Ledger
from ledger.application.files import StaffFiles
from ledger.conflict_api import router as conflict
from ledger.dossier_api import router as dossier
from ledger.files_api import install_files
from ledger.outcomes import OutcomeRecorder
from ledger.pages import router as pages
from ledger.pages.files import router as file_pages
from ledger.projection import SUBSCRIPTIONS
from ledger.projection.search import create_index
from ledger.registrar import Registrar
from ledger.schemas import FIELD_LABELS
from ledger.settings import LedgerSettings
from ledger.task_schemas import TASK_FIELD_LABELS
from ledger.tasks_api import router as tasks


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    settings = settings or LedgerSettings()
    runtime = ServiceRuntime(
        settings,
        title="Ledger: registration, transfer, responsibility and feedback of every lead",
    )
    ledger = Ledger(runtime, settings)
    runtime.app.state.ledger = ledger
    runtime.project(*SUBSCRIPTIONS)
    manage_schema(runtime, "ledger")

    def prepare_search() -> None:
        # The search index is made on the table it indexes (made by manage_schema's hook,
        # which runs first), before the projection writes; under the schema lock, so that
        # replicas starting together make it once.
        with schema_lock(runtime.database.sync_engine):
            create_index(runtime.database.sync_engine)

    async def prepare() -> None:
        await asyncio.to_thread(prepare_search)

    runtime.on_prepare(prepare)
    registrar = Registrar(runtime, settings)
    react_in_batches(
        runtime,
        name="registrar",
        stream=Stream.INTAKE,
        subject="intake.lead.*.LeadReported",
        many=registrar.register_batch,
        one=registrar,
    )

    react(
        runtime,
        name="outcomes",
        stream=Stream.DIRECTIVES,
        subject="directive.lead.*.DisciplineOutcome",
        handler=OutcomeRecorder(runtime, ledger),
    )

    freeze_startup_heap(runtime)
    runtime.every(settings.deadline_check_seconds, ledger.mark_missed_deadlines, "deadlines")
    install_error_handlers(runtime.app, {**FIELD_LABELS, **TASK_FIELD_LABELS})
    runtime.app.include_router(router)
    runtime.app.include_router(tasks)
    runtime.app.include_router(dossier)
    runtime.app.include_router(conflict)
    install_files(runtime, StaffFiles(ledger))
    # Before the desk's pages: its form's address is under /desk/leads/{lead_id}/{form}.
    runtime.app.include_router(file_pages, include_in_schema=False)
    runtime.app.include_router(pages, include_in_schema=False)
    fastreads.install(runtime.app)
    return runtime.app
