"""Which towns a reader of oversight sees in a county of several towns
(oversight.application.towns), and how a town's rows are told from another's
(oversight.projection.scope)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.sql.elements import ColumnElement

from common.auth import Principal
from common.events import Role
from common.organisation import demo_county_file, load_organisation
from oversight.application.towns import may_name, towns_seen, units_named
from oversight.projection.scope import EVERY_TOWN, leads_in, units_in
from oversight.projection.tables import leads, metadata

COUNTY = load_organisation(demo_county_file())
ONE_TOWN = load_organisation()


def person(role: Role, unit: str | None) -> Principal:
    return Principal(user="someone", display_name="某人", role=role, unit=unit)


@pytest.mark.parametrize(
    ("role", "unit", "town"),
    [
        (Role.DISCIPLINE, "shd-discipline", "shd"),
        (Role.DISCIPLINE, "zxl-discipline", "zxl"),
        (Role.AUDITOR, "zxl-office", "zxl"),
        (Role.ADMIN, "shd-office", "shd"),
    ],
)
def test_a_towns_people_see_their_town_alone(role: Role, unit: str, town: str) -> None:
    towns = towns_seen(COUNTY, person(role, unit))
    assert not towns.every
    assert towns.codes == {town}
    assert towns.prefixes == {town.upper()}
    assert f"{town}-v01" in towns.villages
    assert towns.has_unit(f"{town}-police")
    other = "zxl" if town == "shd" else "shd"
    assert not towns.has_unit(f"{other}-police")
    assert not towns.has_unit("county")
    # The county's units may be named (a lead taken over), another town's may not.
    assert may_name(COUNTY, towns, "county")
    assert not may_name(COUNTY, towns, f"{other}-office")
    named = {u.code for u in units_named(COUNTY, person(role, unit))}
    assert "county" in named
    assert f"{town}-v01" in named
    assert not any(code.startswith(other) for code in named)


@pytest.mark.parametrize(
    ("role", "unit"), [(Role.DISCIPLINE, "county"), (Role.AUDITOR, "county"), (Role.ADMIN, None)]
)
def test_the_countys_people_see_every_town(role: Role, unit: str | None) -> None:
    assert towns_seen(COUNTY, person(role, unit)) is EVERY_TOWN


@pytest.mark.parametrize(
    ("role", "unit"),
    [(Role.DISCIPLINE, None), (Role.AUDITOR, None), (Role.DISCIPLINE, "no-such-unit")],
)
def test_a_reader_in_no_town_and_not_in_the_county_sees_nothing(
    role: Role, unit: str | None
) -> None:
    towns = towns_seen(COUNTY, person(role, unit))
    assert not towns.every
    assert not towns.codes
    assert not towns.units
    assert not towns.has_unit("shd-office")
    assert not towns.has_unit("county")


@pytest.mark.parametrize("unit", ["shd-discipline", None, "no-such-unit"])
def test_a_county_of_one_town_reads_as_before(unit: str | None) -> None:
    assert towns_seen(ONE_TOWN, person(Role.DISCIPLINE, unit)) is EVERY_TOWN


def test_a_towns_leads_are_its_numbers_and_until_filed_its_villages() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    rows = {
        "shd-filed": ("SHD-2026-000001", "zxl-v01"),  # the number decides, not the village
        "shd-unfiled": (None, "shd-v02"),
        "zxl-filed": ("ZXL-2026-000001", None),
        "zxl-unfiled": (None, "zxl-v03"),
        # A prefix that begins like SHD's is another town's range.
        "shdx-filed": ("SHDX-2026-000001", None),
        "nowhere": (None, None),
    }
    shd = towns_seen(COUNTY, person(Role.DISCIPLINE, "shd-discipline"))
    nobody = towns_seen(COUNTY, person(Role.DISCIPLINE, None))
    with engine.begin() as conn:
        conn.execute(
            insert(leads),
            [
                {"lead_id": lead_id, "ledger_number": number, "village": village}
                for lead_id, (number, village) in rows.items()
            ],
        )

        def seen(condition: ColumnElement[bool]) -> set[str]:
            return set(conn.scalars(select(leads.c.lead_id).where(condition)))

        assert seen(leads_in(shd)) == {"shd-filed", "shd-unfiled"}
        assert seen(leads_in(nobody)) == set()
        assert seen(leads_in(EVERY_TOWN)) == set(rows)
        assert seen(units_in(shd, leads.c.village)) == {"shd-unfiled"}
        assert seen(units_in(EVERY_TOWN, leads.c.village)) == set(rows)
