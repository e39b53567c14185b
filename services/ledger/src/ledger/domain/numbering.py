"""Ledger numbers (编号): ``<TOWN>-<YEAR>-<NNNNNN>``, gap-free per town and year.

The next number is the last registered one plus one, and the write that uses it is
checked against the sequence of that last registration, so two registrations at once can
never take the same number or leave a hole; a replay reads the numbers from the events."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from common.times import CHINA

# Years turn at midnight in the township, not in UTC.
_NUMBER: Final = re.compile(r"^(?P<prefix>[A-Z]{2,6})-(?P<year>\d{4})-(?P<n>\d{6,})$")


def ledger_year(moment: datetime) -> int:
    return moment.astimezone(CHINA).year


def is_ledger_number(text: str) -> bool:
    return _NUMBER.match(text) is not None


def next_number(prefix: str, now: datetime, last: str | None) -> str:
    year = ledger_year(now)
    n = 1
    if last is not None:
        match = _NUMBER.match(last)
        if match is None:
            raise ValueError(f"not a ledger number: {last!r}")
        # A clock still in the old year must not restart a year already begun.
        year = max(year, int(match["year"]))
        if match["prefix"] == prefix and int(match["year"]) == year:
            n = int(match["n"]) + 1
    return f"{prefix}-{year}-{n:06d}"
