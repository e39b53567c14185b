"""The period a notice, a campaign or a dossier covers: whole days, ending no earlier than
it begins, at most a year and a day. One rule; each says it in its own words."""

from __future__ import annotations

from datetime import date
from typing import Final

from common.errors import RuleViolation

#: the longest period any of them covers (a year and a day)
LONGEST_PERIOD_DAYS: Final = 366


def check_period(
    first: date, last: date, *, backwards: tuple[str, str], too_long: tuple[str, str]
) -> None:
    """Refuse a period ending before it begins, or longer than LONGEST_PERIOD_DAYS, on the
    field ``to`` with the caller's words (English, Chinese)."""
    if last < first:
        raise RuleViolation(*backwards, field="to")
    if (last - first).days >= LONGEST_PERIOD_DAYS:
        raise RuleViolation(*too_long, field="to")
