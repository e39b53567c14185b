"""The composition root of the intake service: the only place that names infrastructure."""

from __future__ import annotations

from fastapi import FastAPI

from common.service import ServiceRuntime
from intake.settings import IntakeSettings


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(
        settings or IntakeSettings(), title="Intake: 24-hour lead intake with reporter protection"
    )
    return runtime.app
