"""Times as people give them: the organisation's clock is China time (UTC+8, no daylight
saving), and a deadline given as a bare date means the end of that day there."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Final

from pydantic import AwareDatetime, BeforeValidator, Field

CHINA: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
_DATE_ONLY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def end_of_day(day: date) -> datetime:
    """The last second of ``day`` on the organisation's clock."""
    return datetime.combine(day, time(23, 59, 59), CHINA)


def _date_means_end_of_day(value: object) -> object:
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value.strip()):
        return end_of_day(date.fromisoformat(value.strip()))
    if isinstance(value, date) and not isinstance(value, datetime):
        return end_of_day(value)
    return value


#: A deadline: a time with its offset, or a date (the end of that day, China time). A time
#: without an offset is refused: nobody can tell which clock it was read from.
Deadline = Annotated[
    AwareDatetime,
    BeforeValidator(_date_means_end_of_day),
    Field(
        description="A time with its offset (2027-01-31T18:00:00+08:00), or a date"
        " (2027-01-31: the end of that day, China time)"
    ),
]
