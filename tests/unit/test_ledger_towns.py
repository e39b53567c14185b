"""Who reads which town's leads in a county of several towns (ledger.application.towns),
the take-over rule (提级办理) and the filing time that keeps registrations apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.auth import Principal
from common.errors import RuleViolation
from common.events import Actor, Role
from common.events.catalogue import LeadRegistered, LeadTransferred, TransferAccepted
from common.organisation import demo_county_file, load_organisation
from common.vocabulary import Category, Channel
from ledger.application.towns import reader
from ledger.domain.lead import LedgerLead, evolve
from ledger.domain.numbering import filing_time
from ledger.domain.takeover import take_over
from ledger.projection.queries import TownReader, sees_all

COUNTY = load_organisation(demo_county_file())
ONE_TOWN = load_organisation()


def person(role: Role, unit: str | None) -> Principal:
    return Principal(user="someone", display_name="某人", role=role, unit=unit)


@pytest.mark.parametrize(
    ("role", "unit", "prefix"),
    [
        (Role.CLERK, "shd-office", "SHD"),
        (Role.OFFICE, "zxl-office", "ZXL"),
        (Role.AUDITOR, "zxl-office", "ZXL"),
        (Role.ADMIN, "shd-office", "SHD"),
        # Placed in a unit that is no town's and not the county's: a range with no lead.
        (Role.CLERK, "no-such-unit", "-"),
        (Role.CLERK, None, "-"),
        (Role.OFFICE, None, "-"),
    ],
)
def test_a_towns_people_read_their_town_alone(role: Role, unit: str | None, prefix: str) -> None:
    scoped = reader(COUNTY, person(role, unit))
    assert isinstance(scoped, TownReader)
    assert scoped.ledger_prefix == prefix
    assert (scoped.user, scoped.role, scoped.unit) == ("someone", role, unit)
    assert not sees_all(scoped)
    # Asked again, the reader stays as it is.
    assert reader(COUNTY, scoped) is scoped


@pytest.mark.parametrize(
    ("role", "unit"),
    [
        (Role.OFFICE, "county"),
        (Role.AUDITOR, "county"),
        (Role.ADMIN, None),
    ],
)
def test_the_countys_people_read_every_town(role: Role, unit: str | None) -> None:
    principal = person(role, unit)
    assert reader(COUNTY, principal) is principal
    assert sees_all(principal)


@pytest.mark.parametrize(
    ("role", "unit"),
    [
        (Role.POLICE, "shd-police"),
        (Role.DISCIPLINE, "zxl-discipline"),
        (Role.SCREENER, "zxl-v01"),
        (Role.REPORTER, None),
    ],
)
def test_units_that_see_their_own_leads_are_left_to_their_own_rule(
    role: Role, unit: str | None
) -> None:
    principal = person(role, unit)
    assert reader(COUNTY, principal) is principal
    assert not sees_all(principal)


def test_a_county_of_one_town_reads_as_before() -> None:
    clerk = person(Role.CLERK, "shd-office")
    assert reader(ONE_TOWN, clerk) is clerk
    assert sees_all(clerk)


# --- 提级办理 -------------------------------------------------------------------------------

COUNTY_OFFICE = Actor(role=Role.OFFICE, unit="county", user="county.office")
NOW = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)


def filed_lead(holder: str = "zxl-office") -> LedgerLead:
    registered = LeadRegistered(
        lead_id="L1",
        ledger_number="ZXL-2026-000001",
        town="zxl",
        unit=holder,
        reported_at=NOW,
        channel=Channel.HOTLINE,
        category=Category.VILLAGE_TYRANT,
        summary="村霸",
        for_committee=False,
        actor=Actor(role=Role.SYSTEM, unit=holder, user="registrar"),
    )
    return LedgerLead(registered=registered, holder=holder)


def test_a_take_over_hands_the_lead_to_the_county_which_holds_it_at_once() -> None:
    lead = filed_lead()
    handed, accepted = take_over(lead, "county", "群众反映强烈", COUNTY_OFFICE)
    assert isinstance(handed, LeadTransferred)
    assert isinstance(accepted, TransferAccepted)
    assert (handed.from_unit, handed.to_unit, handed.taken_over) == ("zxl-office", "county", True)
    after = evolve(evolve(lead, handed), accepted)
    assert (after.holder, after.pending_to) == ("county", None)


def test_a_lead_the_county_holds_or_is_being_handed_or_archived_is_not_taken_over() -> None:
    lead = filed_lead()
    handed, accepted = take_over(lead, "county", "提级", COUNTY_OFFICE)
    with pytest.raises(RuleViolation, match="already holds"):
        take_over(evolve(evolve(lead, handed), accepted), "county", "提级", COUNTY_OFFICE)
    pending = LeadTransferred(
        lead_id="L1",
        from_unit="zxl-office",
        to_unit="zxl-police",
        reason="核查",
        actor=COUNTY_OFFICE,
    )
    with pytest.raises(RuleViolation, match="waiting for zxl-police"):
        take_over(evolve(lead, pending), "county", "提级", COUNTY_OFFICE)
    archived = LedgerLead(registered=lead.registered, holder="zxl-office", archived=True)
    with pytest.raises(RuleViolation, match="archived"):
        take_over(archived, "county", "提级", COUNTY_OFFICE)


# --- the filing time ------------------------------------------------------------------------


def test_a_registration_is_filed_after_the_last_one_by_a_millisecond_at_least() -> None:
    assert filing_time(NOW, None) == NOW
    assert filing_time(NOW, NOW - timedelta(seconds=1)) == NOW
    assert filing_time(NOW, NOW) == NOW + timedelta(milliseconds=1)
    # A clock behind the last registration's (another replica's) still files after it.
    assert filing_time(NOW, NOW + timedelta(seconds=2)) == NOW + timedelta(
        seconds=2, milliseconds=1
    )
