"""The composition root of the oversight service: the only place that names infrastructure."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi import FastAPI

from common.http_errors import install_error_handlers
from common.reactor import react
from common.service import ServiceRuntime
from common.subjects import Stream
from oversight.api import router
from oversight.handlers import Oversight
from oversight.projection import SUBSCRIPTIONS
from oversight.schemas import FIELD_LABELS
from oversight.settings import OversightSettings

log = structlog.get_logger(__name__)


def create_app(settings: OversightSettings | None = None) -> FastAPI:
    settings = settings or OversightSettings()
    runtime = ServiceRuntime(
        settings,
        title="Oversight: discipline committee supervision, accountability and access audit",
    )
    oversight = Oversight(runtime, settings)
    runtime.app.state.oversight = oversight
    runtime.project(*SUBSCRIPTIONS)
    react(
        runtime,
        name="cases-from-reports",
        stream=Stream.INTAKE,
        subject="intake.lead.*.LeadReported",
        handler=oversight.on_reported,
    )
    react(
        runtime,
        name="cases-from-transfers",
        stream=Stream.LEDGER,
        subject="ledger.lead.*.LeadTransferred",
        handler=oversight.on_transferred,
    )

    async def start() -> None:
        watch = asyncio.create_task(_apply_rules(oversight, settings.rules_check_seconds))

        async def stop() -> None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

        runtime.on_stop(stop)

    runtime.on_start(start)
    install_error_handlers(runtime.app, FIELD_LABELS)
    runtime.app.include_router(router)
    return runtime.app


async def _apply_rules(oversight: Oversight, every: float) -> None:
    """Automatic supervision, once per lead and rule."""
    while True:
        try:
            await oversight.apply_rules()
        except Exception:
            log.exception("oversight_rules_failed")
        await asyncio.sleep(every)
