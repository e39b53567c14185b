"""Ledger numbers (编号): ``<TOWN>-<YEAR>-<NNNNNN>``, gap-free per town and year.

The next number is the town's last registered one plus one, and the write that uses it is
checked against the sequence of the county's last registration, so two registrations at
once can never take the same number or leave a hole in any town's sequence; a replay reads
the numbers from the events. Each town's last number is folded from the registrations in
stream order (:class:`LastNumbers`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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


_MILLISECOND = timedelta(milliseconds=1)


def filing_time(now: datetime, last_filed: datetime | None) -> datetime:
    """When a registration is filed: now, but after the county's last registration by a
    millisecond at least. Registrations are stored one after the other, so no two share a
    millisecond: the list's order (filing time, then number) and the search index's row
    numbers stay unique when two towns file their leads numbered alike at once."""
    if last_filed is not None and now < last_filed + _MILLISECOND:
        return last_filed + _MILLISECOND
    return now


def prefix_of(number: str) -> str | None:
    """The town's prefix a ledger number starts with; None for a text that is not one."""
    match = _NUMBER.match(number)
    return match["prefix"] if match is not None else None


@dataclass
class LastNumbers:
    """Each town's last ledger number (by prefix) as the registrations up to stream
    sequence ``upto`` leave it. A registration is the next of its town's sequence after
    the one before it in the stream, so the last one seen of a town is its last number."""

    upto: int = 0
    by_prefix: dict[str, str] = field(default_factory=dict)

    def fold(self, sequence: int, number: str | None) -> None:
        """The registration stored at ``sequence`` (``None``: one that cannot be read,
        stepped over as the numbering steps over it)."""
        if sequence <= self.upto:
            return
        self.upto = sequence
        prefix = prefix_of(number) if number is not None else None
        if prefix is not None and number is not None:
            self.by_prefix[prefix] = number
