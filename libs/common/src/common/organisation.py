"""The organisation: the town, its villages and units, loaded from configuration."""

from __future__ import annotations

import tomllib
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from common.vocabulary import Language


class UnitKind(StrEnum):
    COUNTY = "county"
    OFFICE = "office"
    POLICE = "police"
    JUDICIAL = "judicial"
    DISCIPLINE = "discipline"
    VILLAGE = "village"


class Unit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9-]{2,40}$")
    kind: UnitKind
    name: str
    name_en: str

    def label(self, lang: Language = "zh") -> str:
        return self.name if lang == "zh" else self.name_en


class Town(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name: str
    name_en: str
    ledger_prefix: str = Field(pattern=r"^[A-Z]{2,6}$")


class Organisation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    town: Town
    units: tuple[Unit, ...]

    @cached_property
    def by_code(self) -> dict[str, Unit]:
        return {unit.code: unit for unit in self.units}

    def unit(self, code: str) -> Unit | None:
        return self.by_code.get(code)

    def of_kind(self, kind: UnitKind) -> tuple[Unit, ...]:
        return tuple(unit for unit in self.units if unit.kind is kind)

    @property
    def villages(self) -> tuple[Unit, ...]:
        return self.of_kind(UnitKind.VILLAGE)

    def the(self, kind: UnitKind) -> Unit:
        """The one unit of a kind the town has (its office, police station, ...)."""
        found = self.of_kind(kind)
        if len(found) != 1:
            raise LookupError(f"expected exactly one {kind} unit, found {len(found)}")
        return found[0]


def load_organisation(path: Path | None = None) -> Organisation:
    """Load the organisation file; without a path, the demo organisation shipped here."""
    if path is None:
        text = resources.files("common.data").joinpath("organisation.toml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    org = Organisation.model_validate(tomllib.loads(text))
    if len(org.by_code) != len(org.units):
        raise ValueError("unit codes must be unique")
    return org
