"""Rules that guard against quiet harm: a formula planted in a report, a clock at New
Year, a lead handed on after it was concluded, an imported row's id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.errors import RuleViolation
from common.events import Actor, Role
from common.events.catalogue import LeadConcluded, LeadRegistered, LeadTransferred
from common.vocabulary import Category, Channel, Conclusion
from intake.importer import row_lead_id
from ledger.domain import lead as rules
from ledger.domain.numbering import next_number
from ledger.export import inert_text

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline")


@pytest.mark.parametrize("planted", ['=WEBSERVICE("http://x")', "+1+1", "-2", "@SUM(A1)"])
def test_a_summary_that_starts_like_a_formula_is_exported_as_text(planted: str) -> None:
    assert inert_text(planted) == "'" + planted


def test_an_ordinary_summary_is_exported_as_it_is() -> None:
    assert inert_text("村霸强占鱼塘") == "村霸强占鱼塘"


def test_a_clock_still_in_the_old_year_continues_the_new_years_numbers() -> None:
    late_clock = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)  # 23:59 in China, 2026
    assert next_number("SHD", late_clock, "SHD-2027-000004") == "SHD-2027-000005"


def test_numbers_start_again_at_one_in_a_new_year() -> None:
    new_year = datetime(2026, 12, 31, 16, 1, tzinfo=UTC)  # 00:01 in China, 2027
    assert next_number("SHD", new_year, "SHD-2026-000917") == "SHD-2027-000001"


def _routed_and_concluded() -> rules.LedgerLead:
    registered = LeadRegistered(
        for_committee=False,
        lead_id="L1",
        ledger_number="SHD-2026-000001",
        unit="shd-office",
        reported_at=datetime(2026, 3, 1, tzinfo=UTC),
        channel=Channel.HOTLINE,
        category=Category.DUTY_CRIME,
        summary="村会计挪用扶贫款",
        actor=OFFICE,
    )
    handed = LeadTransferred(
        lead_id="L1",
        from_unit="shd-office",
        to_unit="shd-discipline",
        reason="涉及党员",
        actor=OFFICE,
    )
    concluded = LeadConcluded(
        lead_id="L1", result=Conclusion.SUBSTANTIATED, summary="纪委处理结果", actor=COMMITTEE
    )
    return rules.fold([registered, handed, concluded])


def test_a_lead_concluded_while_waiting_for_acceptance_can_no_longer_be_accepted() -> None:
    with pytest.raises(RuleViolation, match="concluded"):
        rules.accept(_routed_and_concluded(), COMMITTEE)


def test_a_lead_concluded_while_waiting_for_acceptance_can_no_longer_be_returned() -> None:
    with pytest.raises(RuleViolation, match="concluded"):
        rules.return_transfer(_routed_and_concluded(), "不属于纪委管辖", COMMITTEE)


def test_an_imported_row_keeps_its_id_and_the_id_depends_on_the_intake_key() -> None:
    row = {"简要内容": "村霸强占鱼塘", "举报人姓名": "张三", "联系电话": "13800000000"}
    same = row_lead_id(b"k" * 32, "shd-v01", dict(row))
    assert same == row_lead_id(b"k" * 32, "shd-v01", dict(row))
    assert same != row_lead_id(b"j" * 32, "shd-v01", dict(row))
    assert same != row_lead_id(b"k" * 32, "shd-v02", dict(row))
