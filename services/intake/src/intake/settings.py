"""Intake settings, from environment variables prefixed `INTAKE_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings
from common.subjects import Service


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    service: Service = Service.INTAKE
    http_port: int = 8101
