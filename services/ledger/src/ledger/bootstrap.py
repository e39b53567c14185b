"""The composition root of the ledger service: the only place that names infrastructure."""

from __future__ import annotations

from fastapi import FastAPI

from common.service import ServiceRuntime
from ledger.projection import SUBSCRIPTIONS
from ledger.settings import LedgerSettings


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings or LedgerSettings(),
        title="Ledger: registration, transfer, responsibility and feedback of every lead",
    )
    runtime.project(*SUBSCRIPTIONS)
    return runtime.app
