"""The suite's one rule of who may read a lead (common.visibility), held against the
ledger's own SQL rule (ledger.projection.queries.visible_to, for the reader
ledger.application.towns.reader makes of a principal): for every role the ledger knows,
placed in their own or another unit, of their own or another town, in a village or the
county, and leads filed in either town, handed on, routed to the committee or not, both
say the same. Then what the ledger cannot say: the custodian, and leads not filed yet."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, insert, select

from common.auth import Principal
from common.events import Role
from common.organisation import Organisation, demo_county_file, load_organisation
from common.visibility import LeadFacts, may_read
from ledger.application.towns import reader
from ledger.projection.queries import READERS, visible_to
from ledger.projection.tables import lead_units, leads, metadata

COUNTY = load_organisation(demo_county_file())
ONE_TOWN = load_organisation()

# (lead id, ledger number, village, for the committee, the units it was handed to)
LEADS: tuple[tuple[str, str, str | None, bool, tuple[str, ...]], ...] = (
    ("shd-kept", "SHD-2026-000001", "shd-v01", False, ("shd-office",)),
    ("shd-police", "SHD-2026-000002", "shd-v02", False, ("shd-office", "shd-police")),
    ("shd-judicial", "SHD-2026-000003", None, False, ("shd-office", "shd-judicial")),
    ("shd-committee", "SHD-2026-000004", "shd-v01", True, ("shd-office", "shd-discipline")),
    ("zxl-police", "ZXL-2026-000001", "zxl-v01", False, ("zxl-office", "zxl-police")),
    ("zxl-committee", "ZXL-2026-000002", "zxl-v01", True, ("zxl-office", "zxl-discipline")),
    ("zxl-county", "ZXL-2026-000003", "zxl-v02", False, ("zxl-office", "county")),
)
UNITS: tuple[str | None, ...] = (
    "county",
    "shd-office",
    "shd-police",
    "shd-judicial",
    "shd-discipline",
    "shd-v01",
    "shd-v02",
    "zxl-office",
    "zxl-police",
    "zxl-discipline",
    "zxl-v01",
    "unknown-unit",
    None,
)


@pytest.fixture(scope="module")
def ledger() -> Engine:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    moment = datetime(2026, 6, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for lead_id, number, village, committee, units in LEADS:
            conn.execute(
                insert(leads).values(
                    lead_id=lead_id,
                    ledger_number=number,
                    registered_at=moment,
                    reported_at=moment,
                    channel="hotline",
                    category="public_order",
                    village=village,
                    summary="-",
                    for_committee=committee,
                    status="registered",
                    unit=units[-1],
                    units=",".join(units),
                    updated_at=moment,
                )
            )
            for unit in units:
                conn.execute(insert(lead_units).values(lead_id=lead_id, unit=unit))
    return engine


def facts(number: str, village: str | None, committee: bool, units: tuple[str, ...]) -> LeadFacts:
    return LeadFacts(
        ledger_number=number, village=village, units=frozenset(units), for_committee=committee
    )


def seen_by_the_ledger(engine: Engine, org: Organisation, role: Role, unit: str | None) -> set[str]:
    principal = reader(org, Principal(user="someone", display_name="某人", role=role, unit=unit))
    with engine.connect() as conn:
        return set(conn.execute(select(leads.c.lead_id).where(visible_to(principal))).scalars())


@pytest.mark.parametrize("org", [COUNTY, ONE_TOWN], ids=["county", "one-town"])
@pytest.mark.parametrize("role", sorted(READERS | {Role.REPORTER, Role.SYSTEM}))
def test_the_rule_agrees_with_the_ledgers_for_every_role_unit_and_town(
    ledger: Engine, org: Organisation, role: Role
) -> None:
    for unit in UNITS:
        by_rule = {
            lead_id
            for lead_id, number, village, committee, units in LEADS
            if may_read(org, role, unit, facts(number, village, committee, units))
        }
        assert by_rule == seen_by_the_ledger(ledger, org, role, unit), (role, unit)


def test_the_cases_said_in_words() -> None:
    shd_police = facts("SHD-2026-000002", "shd-v02", False, ("shd-office", "shd-police"))
    committee = facts("ZXL-2026-000002", "zxl-v01", True, ("zxl-office", "zxl-discipline"))
    assert may_read(COUNTY, Role.CLERK, "shd-office", shd_police)
    assert not may_read(COUNTY, Role.CLERK, "zxl-office", shd_police)
    assert may_read(COUNTY, Role.AUDITOR, "county", shd_police)
    assert may_read(COUNTY, Role.POLICE, "shd-police", shd_police)
    assert not may_read(COUNTY, Role.POLICE, "zxl-police", shd_police)
    assert not may_read(COUNTY, Role.JUDICIAL, "shd-judicial", shd_police)
    assert may_read(COUNTY, Role.SCREENER, "shd-v02", shd_police)
    assert not may_read(COUNTY, Role.SCREENER, "zxl-v01", committee)
    assert may_read(COUNTY, Role.DISCIPLINE, "zxl-discipline", committee)
    assert not may_read(COUNTY, Role.DISCIPLINE, "shd-discipline", committee)


def test_a_custodian_reads_by_town_the_countys_every_town() -> None:
    shd = facts("SHD-2026-000001", "shd-v01", False, ("shd-office",))
    zxl = facts("ZXL-2026-000001", "zxl-v01", True, ("zxl-office", "zxl-discipline"))
    assert may_read(COUNTY, Role.CUSTODIAN, "shd-discipline", shd)
    assert not may_read(COUNTY, Role.CUSTODIAN, "shd-discipline", zxl)
    assert may_read(COUNTY, Role.CUSTODIAN, "zxl-office", zxl)
    assert may_read(COUNTY, Role.CUSTODIAN, "county", shd)
    assert may_read(COUNTY, Role.CUSTODIAN, "county", zxl)
    assert not may_read(COUNTY, Role.CUSTODIAN, None, shd)
    assert may_read(ONE_TOWN, Role.CUSTODIAN, "shd-discipline", shd)


def test_a_lead_not_filed_yet_is_seen_by_the_desk_of_its_town_and_the_county_alone() -> None:
    in_zxl = LeadFacts(village="zxl-v03")
    entered_in_zxl = LeadFacts(village=None, entered_by="zxl-office")
    from_the_public = LeadFacts()  # no village, no unit: the first town's, as the ledger files it
    for lead in (in_zxl, entered_in_zxl):
        for role in (Role.OFFICE, Role.CLERK, Role.AUDITOR, Role.CUSTODIAN, Role.ADMIN):
            assert may_read(COUNTY, role, "zxl-office", lead), role
            assert not may_read(COUNTY, role, "shd-office", lead), role
            assert may_read(COUNTY, role, "county", lead), role
        for role, unit in (
            (Role.POLICE, "zxl-police"),
            (Role.JUDICIAL, "zxl-judicial"),
            (Role.DISCIPLINE, "zxl-discipline"),
            (Role.SCREENER, "zxl-v03"),
        ):
            assert not may_read(COUNTY, role, unit, lead), role
    assert may_read(COUNTY, Role.CLERK, "shd-office", from_the_public)
    assert not may_read(COUNTY, Role.CLERK, "zxl-office", from_the_public)
    assert not may_read(COUNTY, Role.REPORTER, None, in_zxl)


def test_a_screener_in_no_village_sees_nothing() -> None:
    no_village = facts("SHD-2026-000003", None, False, ("shd-office", "shd-judicial"))
    assert not may_read(COUNTY, Role.SCREENER, None, no_village)
    assert not may_read(ONE_TOWN, Role.SCREENER, None, no_village)
