"""Oversight settings, from environment variables prefixed `OVERSIGHT_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings
from common.subjects import Service


class OversightSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_", extra="ignore")

    service: Service = Service.OVERSIGHT
    http_port: int = 8103
