"""Intake settings, from environment variables prefixed `INTAKE_`."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings, degenerate
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
    http_port: int = Service.INTAKE.default_port
    #: wraps each lead's identity data key (key-encryption key); losing it loses every identity
    identity_key: SecretStr = SecretStr("")
    #: keys the hash of receipts (HMAC); the server never stores a receipt itself
    receipt_key: SecretStr = SecretStr("")
    #: signs the receipt documents reporters keep (Ed25519 private key: 32 random bytes,
    #: base64); its public half is published at /v1/receipts/public-key
    signing_key: SecretStr = SecretStr("")
    #: the public halves (base64, comma-separated) of earlier signing keys, so that the
    #: receipts they signed still verify after the signing key is replaced
    retired_signing_keys: str = ""
    #: identities are shredded this long after their lead is archived (5 years)
    identity_retention_days: int = Field(default=5 * 365 + 1, ge=1)
    retention_check_seconds: float = Field(default=3600.0, gt=0)
    #: proof of work asked of each public report and each look-up by receipt, in bits
    #: (about 2**bits SHA-256 hashes: 20 bits take a second or two in a browser)
    work_bits_report: int = Field(default=20, ge=0, le=28)
    work_bits_receipt: int = Field(default=16, ge=0, le=28)
    #: public reports an hour above which each further report costs more work
    usual_public_reports_per_hour: int = Field(default=60, ge=1)
    #: growth of the INTAKE stream per hour that raises the alarm (log and metric)
    stream_growth_alarm_bytes_per_hour: int = Field(default=64 * 1024 * 1024, ge=1)
    #: how similar two reports of one village and category must be to be linked (0-1)
    duplicate_similarity: float = Field(default=0.6, gt=0, le=1)
    #: the largest ledger file staff may import (bytes); larger uploads are refused with 413
    import_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: rows per imported ledger; a village's ledger has hundreds
    import_max_rows: int = Field(default=5_000, ge=1, le=100_000)
    #: the largest evidence file a reporter may send (bytes); larger ones are refused (413)
    evidence_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    #: the largest photo (bytes): a photo is held whole in memory to find and strip metadata
    evidence_photo_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: evidence files a lead may hold
    evidence_max_files: int = Field(default=20, ge=1, le=1000)
    #: the town's reporting telephone, given on the report page to whoever cannot report
    #: there (no JavaScript for the proof of work); unset, the page names the office only
    hotline: str = Field(default="", max_length=40, pattern=r"^[0-9+\- ()]*$")

    @model_validator(mode="after")
    def _keys(self) -> Self:
        keys = {
            name: _key_bytes(getattr(self, name), name)
            for name in ("identity_key", "receipt_key", "signing_key")
        }
        if len(set(keys.values())) < len(keys):
            raise ValueError("identity_key, receipt_key and signing_key must all differ")
        self.retired_signing_public_keys  # noqa: B018 - refused here, not when first used
        return self

    def _production_problems(self, keys: dict[str, bytes]) -> list[str]:
        problems = super()._production_problems(keys)
        for name in ("identity_key", "receipt_key", "signing_key"):
            try:
                key = _key_bytes(getattr(self, name), name)
            except ValueError:
                continue  # malformed: refused by name in every environment (_keys)
            if len(set(key)) == 1:
                problems.append(degenerate(name))
        return problems

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.identity_retention_days)

    @property
    def identity_key_bytes(self) -> bytes:
        return _key_bytes(self.identity_key, "identity_key")

    @property
    def receipt_key_bytes(self) -> bytes:
        return _key_bytes(self.receipt_key, "receipt_key")

    @property
    def signing_key_bytes(self) -> bytes:
        return _key_bytes(self.signing_key, "signing_key")

    @property
    def retired_signing_public_keys(self) -> list[bytes]:
        found = []
        for text in filter(None, (part.strip() for part in self.retired_signing_keys.split(","))):
            try:
                raw = base64.b64decode(text, validate=True)
                Ed25519PublicKey.from_public_bytes(raw)
            except ValueError as exc:
                raise ValueError(
                    "retired_signing_keys: each must be an Ed25519 public key, 32 bytes in"
                    " base64 (as GET /v1/receipts/public-key gives it)"
                ) from exc
            found.append(raw)
        return found
