"""Ledger settings, from environment variables prefixed `LEDGER_`."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Final, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from common.chain import private_key
from common.routing import COMMITTEE_CATEGORIES, COMMITTEE_FLAGS, CommitteeRule
from common.settings import ServiceSettings, degenerate
from common.subjects import Service
from common.vocabulary import Category, Flag

# Days to handle a lead, by category, unless the office sets another deadline.
DEFAULT_DEADLINE_DAYS: dict[Category, int] = {
    Category.PETITION: 15,
    Category.PUBLIC_ORDER: 15,
    Category.MINOR_CRIMINAL: 30,
    Category.VILLAGE_TYRANT: 30,
    Category.CULT_VICE: 30,
    Category.MASS_ECONOMIC: 60,
    Category.DUTY_CRIME: 60,
    Category.PROTECTIVE_UMBRELLA: 60,
    Category.OTHER: 30,
}

MIB: Final = 1024 * 1024
# Development's files key, the same at every start so that `make run` reads back what it
# stored: public, so refused in production (files_key must be set there).
_DEVELOPMENT_FILES_KEY: Final = hashlib.sha256(b"ledger staff files, development only").digest()


def _files_key(secret: SecretStr) -> bytes:
    try:
        key = base64.b64decode(secret.get_secret_value(), validate=True)
    except binascii.Error as exc:
        raise ValueError("files_key must be base64") from exc
    if len(key) != 32:
        raise ValueError(
            "files_key must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)"
        )
    return key


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    service: Service = Service.LEDGER
    http_port: int = Service.LEDGER.default_port
    deadline_days: dict[Category, int] = Field(default_factory=lambda: dict(DEFAULT_DEADLINE_DAYS))
    #: a lead with any of these flags goes to the discipline committee as soon as it is filed
    discipline_flags: frozenset[Flag] = COMMITTEE_FLAGS
    #: ... and so does a lead of these categories (the same leads oversight opens cases on)
    discipline_categories: frozenset[Category] = COMMITTEE_CATEGORIES
    #: how often to look for deadlines that passed
    deadline_check_seconds: float = Field(default=60.0, gt=0)
    #: a lead with neither answer nor result this many days after filing is "unanswered"
    unanswered_after_days: int = Field(default=15, ge=1)
    #: signs dossiers' manifests: an Ed25519 private key in PEM, as `leadctl keygen` writes
    #: it; unset, a dossier carries hashes only and says it is unsigned
    dossier_key: Path | None = None
    #: the largest dossier (bytes, all its entries before compression, staff files among
    #: them); a period holding more is refused (413) before anything is written
    dossier_max_bytes: int = Field(default=1024 * MIB, ge=MIB, le=4 * 1024 * MIB)
    #: wraps each lead's and each item's data key for staff files (key-encryption key,
    #: 32 bytes, base64); losing it loses every staff file. Unset: a development key
    #: (refused in production)
    files_key: SecretStr = SecretStr("")
    #: the largest staff file (bytes); a larger upload is refused (413) naming this limit
    files_max_bytes: int = Field(default=50 * MIB, ge=1024, le=1024 * MIB)
    #: the largest photo (bytes): a photo is held whole in memory to find and strip metadata
    files_photo_max_bytes: int = Field(default=16 * MIB, ge=1024, le=64 * MIB)
    #: staff files one lead or one item may hold
    files_max_per_owner: int = Field(default=50, ge=1, le=1000)

    @model_validator(mode="after")
    def _dossier_key_readable(self) -> Self:
        try:
            self.dossier_signing_key  # noqa: B018 - refused at start, not at the first export
        except (OSError, ValueError) as exc:
            raise ValueError(f"dossier_key: no Ed25519 private key in PEM to read: {exc}") from exc
        if self.files_key.get_secret_value():
            _files_key(self.files_key)  # a malformed key refused by name, at start
        return self

    def _production_problems(self, keys: dict[str, bytes]) -> list[str]:
        problems = super()._production_problems(keys)
        if not self.files_key.get_secret_value():
            problems.append(
                "files_key must be set in production (32 random bytes, base64: it wraps the"
                " data key of every staff file)"
            )
        elif len(set(_files_key(self.files_key))) == 1:
            problems.append(degenerate("files_key"))
        return problems

    @property
    def files_key_bytes(self) -> bytes:
        if not self.files_key.get_secret_value():
            return _DEVELOPMENT_FILES_KEY
        return _files_key(self.files_key)

    @property
    def dossier_signing_key(self) -> Ed25519PrivateKey | None:
        return private_key(self.dossier_key) if self.dossier_key is not None else None

    @property
    def committee_rule(self) -> CommitteeRule:
        return CommitteeRule(flags=self.discipline_flags, categories=self.discipline_categories)

    def unanswered_after(self, days: int | None) -> timedelta:
        return timedelta(days=days if days is not None else self.unanswered_after_days)

    def deadline_for(self, category: Category) -> timedelta:
        return timedelta(days=self.deadline_days.get(category, 30))
