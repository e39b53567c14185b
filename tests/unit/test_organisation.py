"""The organisation file: the demo town and the demo county as shipped, the older single-town
file read as a county of one town, and what a county file may not say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.organisation import Organisation, UnitKind, demo_county_file, load_organisation

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


# --- a county of several towns -------------------------------------------------------------


def _written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "organisation.toml"
    path.write_text(text, "utf-8")
    return path


def _town(code: str, prefix: str, *units: tuple[str, str]) -> str:
    listed = "".join(
        f'\n[[towns.units]]\ncode = "{unit}"\nkind = "{kind}"\nname = "单位"\nname_en = "Unit"\n'
        for unit, kind in units
    )
    return (
        f'\n[[towns]]\ncode = "{code}"\nname = "某镇"\nname_en = "A town"\n'
        f'ledger_prefix = "{prefix}"\n{listed}'
    )


COUNTY = """
[county]
code = "c"
name = "某县"
name_en = "A county"

[[units]]
code = "c-office"
kind = "county"
name = "县扫黑办"
name_en = "County office"
"""


def test_the_demo_county_has_two_towns_each_with_its_own_units() -> None:
    county = load_organisation(demo_county_file())
    assert county.county is not None
    assert county.county.name == "赵县"
    assert [(t.code, t.ledger_prefix) for t in county.towns] == [("shd", "SHD"), ("zxl", "ZXL")]
    shd, zxl = county.towns
    assert len(shd.of_kind(UnitKind.VILLAGE)) == 17
    assert zxl.the(UnitKind.OFFICE).code == "zxl-office"
    assert county.town_of("zxl-v01") == zxl
    assert county.town_of("shd-police") == shd
    # The county's own units belong to no town: their people see every town.
    assert county.town_of("county") is None
    assert county.is_county_level("county")
    assert not county.is_county_level("shd-office")
    assert county.town_with_prefix("ZXL") == zxl
    assert len(county.units) == len(county.by_code) == 1 + len(shd.units) + len(zxl.units)


def test_the_older_single_town_file_is_a_county_of_one_town(demo: Organisation) -> None:
    [town] = demo.towns
    assert demo.town == town
    assert town.ledger_prefix == "SHD"
    assert demo.county is None
    assert [u.code for u in demo.county_units] == ["county"]
    assert demo.town_of("shd-v05") == town
    assert demo.town_of("county") is None


def test_a_unit_of_a_town_a_county_does_not_have_is_an_unknown_town(demo: Organisation) -> None:
    with pytest.raises(LookupError, match=r"no town 'zxl'.*its towns are shd"):
        demo.town_named("zxl")
    assert demo.town_of("zxl-v01") is None
    assert demo.town_with_prefix("ZXL") is None


def test_a_unit_listed_in_two_towns_is_refused(tmp_path: Path) -> None:
    path = _written(
        tmp_path,
        COUNTY
        + _town("a", "AA", ("a-office", "office"), ("v-shared", "village"))
        + _town("b", "BB", ("b-office", "office"), ("v-shared", "village")),
    )
    with pytest.raises(ValueError, match=r"unit code.*'v-shared' in town a and town b"):
        load_organisation(path)


def test_two_towns_with_one_ledger_prefix_are_refused(tmp_path: Path) -> None:
    path = _written(
        tmp_path, COUNTY + _town("a", "SAME", ("a-office", "office")) + _town("b", "SAME")
    )
    with pytest.raises(ValueError, match=r"ledger prefix.*'SAME' in a and b"):
        load_organisation(path)


def test_two_towns_with_one_code_are_refused(tmp_path: Path) -> None:
    path = _written(tmp_path, COUNTY + _town("a", "AA") + _town("a", "BB"))
    with pytest.raises(ValueError, match=r"town code.*'a'"):
        load_organisation(path)


def test_a_county_unit_inside_a_town_or_a_town_unit_under_the_county_is_refused(
    tmp_path: Path,
) -> None:
    inside = _written(tmp_path, COUNTY + _town("a", "AA", ("a-county", "county")))
    with pytest.raises(ValueError, match=r"'a-county'.*belong in the county"):
        load_organisation(inside)
    under = COUNTY.replace('kind = "county"', 'kind = "police"')
    with pytest.raises(ValueError, match=r"c-office.*listed under the county"):
        load_organisation(_written(tmp_path, under + _town("a", "AA")))


def test_a_file_mixing_the_two_shapes_or_with_no_town_is_refused(tmp_path: Path) -> None:
    mixed = '[town]\ncode = "t"\nname = "某镇"\nname_en = "T"\nledger_prefix = "TT"\n' + COUNTY
    with pytest.raises(ValueError, match="either"):
        load_organisation(_written(tmp_path, mixed))
    with pytest.raises(ValueError, match="towns"):
        load_organisation(_written(tmp_path, COUNTY))
    with pytest.raises(ValueError, match=r"unknown sections.*'town_list'"):
        load_organisation(_written(tmp_path, COUNTY + "[[town_list]]\ncode = 'x'\n"))


def test_a_town_code_that_would_change_a_subject_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="code"):
        load_organisation(_written(tmp_path, COUNTY + _town("a.b", "AA")))
