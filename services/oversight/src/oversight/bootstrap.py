"""The composition root of the oversight service: the only place that names infrastructure."""

from __future__ import annotations

from fastapi import FastAPI

from common.service import ServiceRuntime
from oversight.settings import OversightSettings


def create_app(settings: OversightSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings or OversightSettings(),
        title="Oversight: discipline committee supervision, accountability and access audit",
    )
    return runtime.app
