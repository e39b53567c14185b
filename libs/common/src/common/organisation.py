"""The organisation: a county and its towns (镇 and 乡), each with its villages and units,
loaded from configuration.

Two shapes of file are read. A county of several towns::

    [county]            # the county itself
    [[units]]           # the county's own units (kind "county": its office, its auditors)
    [[towns]]           # one table per town, with its ledger prefix
    [[towns.units]]     # that town's office, police station, ..., villages

and the older single town (``[town]`` and one ``[[units]]`` list holding the county unit
too), read as a county of that one town, so a deployment made before keeps its file."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

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


class County(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    name: str
    name_en: str


class Town(BaseModel):
    """A town (镇) or township (乡): its leads are numbered ``<ledger_prefix>-YYYY-NNNNNN``
    in a sequence of their own, and its staff see only them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A subject token and part of a scope name: letters, digits and '-' only.
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,15}$")
    name: str
    name_en: str
    ledger_prefix: str = Field(pattern=r"^[A-Z]{2,6}$")
    units: tuple[Unit, ...] = ()

    def of_kind(self, kind: UnitKind) -> tuple[Unit, ...]:
        return tuple(unit for unit in self.units if unit.kind is kind)

    def the(self, kind: UnitKind) -> Unit:
        """The one unit of a kind the town has (its office, police station, ...)."""
        found = self.of_kind(kind)
        if len(found) != 1:
            raise LookupError(
                f"expected exactly one {kind} unit in town {self.code}, found {len(found)}"
            )
        return found[0]

    def label(self, lang: Language = "zh") -> str:
        return self.name if lang == "zh" else self.name_en


class Organisation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    county: County | None = None
    towns: tuple[Town, ...] = Field(min_length=1)
    #: the county's own units (kind county)
    county_units: tuple[Unit, ...] = ()

    @cached_property
    def units(self) -> tuple[Unit, ...]:
        """Every unit: the county's, then each town's in the order of the file."""
        return self.county_units + tuple(u for town in self.towns for u in town.units)

    @cached_property
    def by_code(self) -> dict[str, Unit]:
        return {unit.code: unit for unit in self.units}

    @cached_property
    def _homes(self) -> dict[str, Town]:
        return {unit.code: town for town in self.towns for unit in town.units}

    @cached_property
    def _towns(self) -> dict[str, Town]:
        return {town.code: town for town in self.towns}

    @cached_property
    def _prefixes(self) -> dict[str, Town]:
        return {town.ledger_prefix: town for town in self.towns}

    @property
    def town(self) -> Town:
        """The first town: a county of one town's only one, and the town the leads filed
        before towns were recorded belong to."""
        return self.towns[0]

    def unit(self, code: str) -> Unit | None:
        return self.by_code.get(code)

    def of_kind(self, kind: UnitKind) -> tuple[Unit, ...]:
        return tuple(unit for unit in self.units if unit.kind is kind)

    @property
    def villages(self) -> tuple[Unit, ...]:
        return self.of_kind(UnitKind.VILLAGE)

    def the(self, kind: UnitKind) -> Unit:
        """The one unit of a kind the organisation has (a county of one town's office,
        police station, ...; the county office of any county)."""
        found = self.of_kind(kind)
        if len(found) != 1:
            raise LookupError(f"expected exactly one {kind} unit, found {len(found)}")
        return found[0]

    def town_named(self, code: str) -> Town:
        found = self._towns.get(code)
        if found is None:
            known = ", ".join(self._towns)
            raise LookupError(f"no town {code!r} in the organisation; its towns are {known}")
        return found

    def town_of(self, unit: str | None) -> Town | None:
        """The town a unit (or village) belongs to; None for the county's own units and for
        a code the organisation does not have."""
        return self._homes.get(unit) if unit is not None else None

    def town_with_prefix(self, prefix: str) -> Town | None:
        return self._prefixes.get(prefix)

    def is_county_level(self, unit: str | None) -> bool:
        """Whether ``unit`` is one of the county's own: its people see every town."""
        found = self.unit(unit) if unit is not None else None
        return found is not None and found.kind is UnitKind.COUNTY

    def sees_every_town(self, unit: str | None, *, admin: bool) -> bool:
        """Whether a person placed in ``unit`` reads every town's: anyone in a county of one
        town; else the county's own units, and an administrator placed in no unit."""
        return len(self.towns) == 1 or self.is_county_level(unit) or (unit is None and admin)


def load_organisation(path: Path | None = None) -> Organisation:
    """Load the organisation file; without a path, the demo organisation shipped here."""
    if path is None:
        text = resources.files("common.data").joinpath("organisation.toml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return organisation_of(tomllib.loads(text))


def demo_county_file() -> Path:
    """The demo county of two towns (``make run``)."""
    return Path(str(resources.files("common.data").joinpath("county.toml")))


def organisation_of(data: dict[str, Any]) -> Organisation:
    """The organisation a parsed file describes, or a ValueError saying what is wrong."""
    if "town" in data:
        if "towns" in data or "county" in data:
            raise ValueError("an organisation file has either [town] or [county] and [[towns]]")
        units = [Unit.model_validate(u) for u in data.get("units", [])]
        county_units = [u for u in units if u.kind is UnitKind.COUNTY]
        town = {**data["town"], "units": [u for u in units if u.kind is not UnitKind.COUNTY]}
        org = Organisation(towns=(Town.model_validate(town),), county_units=tuple(county_units))
    else:
        unknown = set(data) - {"county", "units", "towns"}
        if unknown:
            raise ValueError(f"unknown sections in the organisation file: {sorted(unknown)}")
        org = Organisation.model_validate(
            {
                "county": data.get("county"),
                "towns": data.get("towns", []),
                "county_units": data.get("units", []),
            }
        )
        stray = [u.code for u in org.county_units if u.kind is not UnitKind.COUNTY]
        if stray:
            raise ValueError(
                f"units {stray} are listed under the county: a town's units go in its"
                " [[towns.units]], only units of kind 'county' in the county's [[units]]"
            )
        misplaced = [u.code for t in org.towns for u in t.units if u.kind is UnitKind.COUNTY]
        if misplaced:
            raise ValueError(f"units {misplaced} of kind 'county' belong in the county's [[units]]")
    _refuse_repeats("town code", ((t.code, t.code) for t in org.towns))
    _refuse_repeats("ledger prefix", ((t.ledger_prefix, t.code) for t in org.towns))
    _refuse_repeats(
        "unit code",
        ((u.code, "the county") for u in org.county_units),
        ((u.code, f"town {t.code}") for t in org.towns for u in t.units),
    )
    return org


def _refuse_repeats(what: str, *pairs: Iterable[tuple[str, str]]) -> None:
    """Refuse a value used twice, naming where: unit codes, town codes and ledger prefixes
    must each be unique across the county."""
    where: dict[str, list[str]] = {}
    for group in pairs:
        for value, place in group:
            where.setdefault(value, []).append(place)
    twice = {value: places for value, places in where.items() if len(places) > 1}
    if twice:
        said = "; ".join(f"{value!r} in {' and '.join(places)}" for value, places in twice.items())
        raise ValueError(f"each {what} must be unique in the organisation: {said}")
