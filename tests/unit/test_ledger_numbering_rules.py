"""Ledger numbers (编号) ``<TOWN>-<YEAR>-<NNNNNN>``: what is one, which year a moment falls
in (the township's), and the next number after the last one registered, which never
repeats one and never leaves a hole in a year, whatever the clock does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.times import CHINA
from ledger.domain.numbering import (
    LastNumbers,
    is_ledger_number,
    ledger_year,
    next_number,
    prefix_of,
)

MARCH = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("number", ["SHD-2026-000001", "SH-2026-123456", "SHDZXC-2026-1000000"])
def test_a_ledger_number_is_a_town_a_year_and_six_digits_or_more(number: str) -> None:
    assert is_ledger_number(number)


@pytest.mark.parametrize(
    "text",
    [
        "shd-2026-000001",  # the town code is upper case
        "S-2026-000001",  # at least two letters
        "SHDZXCV-2026-000001",  # at most six
        "SHD-26-000001",
        "SHD-2026-00001",  # fewer than six digits
        "SHD-2026-000001 ",
        "SHD2026000001",
        "",
    ],
)
def test_anything_else_is_not_a_ledger_number(text: str) -> None:
    assert not is_ledger_number(text)


@pytest.mark.parametrize(
    ("moment", "year"),
    [
        (datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC), 2026),
        (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), 2027),  # midnight in the township
        (datetime(2027, 1, 1, 0, 30, tzinfo=CHINA), 2027),
    ],
)
def test_the_ledger_year_turns_at_midnight_in_the_township(moment: datetime, year: int) -> None:
    assert ledger_year(moment) == year


def test_the_first_lead_of_a_ledger_is_number_one() -> None:
    assert next_number("SHD", MARCH, None) == "SHD-2026-000001"


def test_the_next_number_follows_the_last_one() -> None:
    assert next_number("SHD", MARCH, "SHD-2026-000041") == "SHD-2026-000042"


def test_numbers_go_on_past_six_digits() -> None:
    assert next_number("SHD", MARCH, "SHD-2026-999999") == "SHD-2026-1000000"
    assert next_number("SHD", MARCH, "SHD-2026-1000000") == "SHD-2026-1000001"


def test_a_town_code_of_its_own_starts_at_one() -> None:
    assert next_number("HXZ", MARCH, "SHD-2026-000041") == "HXZ-2026-000001"


def test_a_last_number_that_is_not_a_ledger_number_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="not a ledger number: 'SHD-2026-42'"):
        next_number("SHD", MARCH, "SHD-2026-42")


# --- properties over any run of clocks ----------------------------------------------------

# A registration's clock: within a few years, in any order (a host's clock may go back).
CLOCKS = st.lists(
    st.datetimes(
        min_value=datetime(2025, 12, 30),
        max_value=datetime(2028, 1, 2),
        timezones=st.just(UTC),
    ),
    min_size=1,
    max_size=40,
)

FAST = settings(max_examples=80, derandomize=True, database=None, deadline=None)


def _register_all(clocks: list[datetime]) -> list[str]:
    numbers: list[str] = []
    for clock in clocks:
        numbers.append(next_number("SHD", clock, numbers[-1] if numbers else None))
    return numbers


@FAST
@given(CLOCKS)
def test_numbers_never_repeat_and_each_year_has_no_hole(clocks: list[datetime]) -> None:
    numbers = _register_all(clocks)
    assert len(set(numbers)) == len(numbers)
    assert all(is_ledger_number(n) for n in numbers)
    by_year: dict[str, list[int]] = {}
    for number in numbers:
        _, year, n = number.split("-")
        by_year.setdefault(year, []).append(int(n))
    for ns in by_year.values():
        assert ns == list(range(1, len(ns) + 1))


@FAST
@given(CLOCKS)
def test_a_number_is_never_of_a_year_before_the_last_one(clocks: list[datetime]) -> None:
    years = [int(number.split("-")[1]) for number in _register_all(clocks)]
    assert years == sorted(years)


@FAST
@given(CLOCKS)
def test_with_a_clock_that_only_goes_forward_the_year_is_the_townships(
    clocks: list[datetime],
) -> None:
    ordered = sorted(clocks)
    for clock, number in zip(ordered, _register_all(ordered), strict=True):
        assert number.split("-")[1] == str(ledger_year(clock))


def test_each_towns_last_number_is_its_last_registration_in_the_stream() -> None:
    last = LastNumbers()
    last.fold(3, "SHD-2026-000001")
    last.fold(5, "ZXL-2026-000001")
    last.fold(6, None)  # a registration that cannot be read is stepped over
    last.fold(9, "SHD-2026-000002")
    assert last.by_prefix == {"SHD": "SHD-2026-000002", "ZXL": "ZXL-2026-000001"}
    assert last.upto == 9
    # Folded already: a registration read again changes nothing.
    last.fold(5, "ZXL-2026-000999")
    assert last.by_prefix["ZXL"] == "ZXL-2026-000001"
    assert next_number("ZXL", MARCH, last.by_prefix.get("ZXL")) == "ZXL-2026-000002"
    assert next_number("AB", MARCH, last.by_prefix.get("AB")) == "AB-2026-000001"


@pytest.mark.parametrize(
    ("number", "prefix"), [("ZXL-2026-000007", "ZXL"), ("not-a-number", None), ("", None)]
)
def test_the_town_of_a_number_is_its_prefix(number: str, prefix: str | None) -> None:
    assert prefix_of(number) == prefix
