"""The organisation file: the demo town as shipped, and refusal of duplicate unit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.organisation import Organisation, UnitKind, load_organisation

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def demo() -> Organisation:
    return load_organisation()


def test_the_demo_town_has_seventeen_villages(demo: Organisation) -> None:
    assert len(demo.villages) == 17


@pytest.mark.parametrize(
    "kind",
    [UnitKind.OFFICE, UnitKind.POLICE, UnitKind.JUDICIAL, UnitKind.DISCIPLINE, UnitKind.COUNTY],
)
def test_the_demo_town_has_exactly_one_unit_of_each_non_village_kind(
    demo: Organisation, kind: UnitKind
) -> None:
    assert len(demo.of_kind(kind)) == 1
    assert demo.the(kind).kind is kind


def test_asking_for_the_one_village_of_a_town_with_many_fails(demo: Organisation) -> None:
    with pytest.raises(LookupError, match="exactly one"):
        demo.the(UnitKind.VILLAGE)


def test_the_demo_unit_codes_are_unique(demo: Organisation) -> None:
    codes = [unit.code for unit in demo.units]
    assert len(codes) == len(set(codes))


def test_a_unit_is_found_by_its_code(demo: Organisation) -> None:
    office = demo.the(UnitKind.OFFICE)
    assert demo.unit(office.code) == office
    assert demo.unit("no-such-unit") is None


def test_every_demo_unit_has_a_chinese_and_an_english_label(demo: Organisation) -> None:
    for unit in demo.units:
        assert HAN.search(unit.label("zh")), unit.code
        english = unit.label("en")
        assert english.strip(), unit.code
        assert english.isascii(), unit.code
        assert not HAN.search(english), unit.code


def test_a_unit_label_is_chinese_unless_english_is_asked_for(demo: Organisation) -> None:
    office = demo.the(UnitKind.OFFICE)
    assert office.label() == office.name
    assert office.label("en") == office.name_en


def test_an_organisation_file_with_duplicate_unit_codes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "organisation.toml"
    path.write_text(
        """
[town]
code = "t"
name = "某镇"
name_en = "Some Town"
ledger_prefix = "ST"

[[units]]
code = "t-office"
kind = "office"
name = "办公室"
name_en = "Office"

[[units]]
code = "t-office"
kind = "police"
name = "派出所"
name_en = "Police station"
""",
        "utf-8",
    )
    with pytest.raises(ValueError, match="unique"):
        load_organisation(path)


def test_an_organisation_file_is_loaded_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "organisation.toml"
    path.write_text(
        """
[town]
code = "t"
name = "某镇"
name_en = "Some Town"
ledger_prefix = "ST"

[[units]]
code = "t-office"
kind = "office"
name = "办公室"
name_en = "Office"
""",
        "utf-8",
    )
    org = load_organisation(path)
    assert org.town.ledger_prefix == "ST"
    assert [unit.code for unit in org.units] == ["t-office"]
