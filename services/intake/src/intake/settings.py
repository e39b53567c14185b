"""Intake settings, from environment variables prefixed `INTAKE_`."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings
from common.subjects import Service


def _key_bytes(secret: SecretStr, name: str) -> bytes:
    try:
        key = base64.b64decode(secret.get_secret_value(), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{name} must be base64") from exc
    if len(key) != 32:
        raise ValueError(
            f"{name} must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)"
        )
    return key


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    service: Service = Service.INTAKE
    http_port: int = 8101
    #: wraps each lead's identity data key (key-encryption key); losing it loses every identity
    identity_key: SecretStr = SecretStr("")
    #: keys the hash of receipts (HMAC); the server never stores a receipt itself
    receipt_key: SecretStr = SecretStr("")
    #: identities are shredded this long after their lead is archived (5 years)
    identity_retention_days: int = Field(default=5 * 365 + 1, ge=1)
    retention_check_seconds: float = Field(default=3600.0, gt=0)
    #: failed receipt look-ups allowed per minute, for everyone together (no client
    #: address is ever kept, so there is nothing else to count by)
    receipt_failures_per_minute: int = Field(default=30, ge=1)
    #: how similar two reports of one village and category must be to be linked (0-1)
    duplicate_similarity: float = Field(default=0.6, gt=0, le=1)

    @model_validator(mode="after")
    def _keys(self) -> Self:
        _key_bytes(self.identity_key, "identity_key")
        _key_bytes(self.receipt_key, "receipt_key")
        if self.identity_key.get_secret_value() == self.receipt_key.get_secret_value():
            raise ValueError("identity_key and receipt_key must differ")
        return self

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.identity_retention_days)

    @property
    def identity_key_bytes(self) -> bytes:
        return _key_bytes(self.identity_key, "identity_key")

    @property
    def receipt_key_bytes(self) -> bytes:
        return _key_bytes(self.receipt_key, "receipt_key")
