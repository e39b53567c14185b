"""Ledger settings, from environment variables prefixed `LEDGER_`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from common.chain import private_key
from common.routing import COMMITTEE_CATEGORIES, COMMITTEE_FLAGS, CommitteeRule
from common.settings import ServiceSettings
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

    @model_validator(mode="after")
    def _dossier_key_readable(self) -> Self:
        try:
            self.dossier_signing_key  # noqa: B018 - refused at start, not at the first export
        except (OSError, ValueError) as exc:
            raise ValueError(f"dossier_key: no Ed25519 private key in PEM to read: {exc}") from exc
        return self

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
