"""Ledger settings, from environment variables prefixed `LEDGER_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings
from common.subjects import Service


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    service: Service = Service.LEDGER
    http_port: int = 8102
