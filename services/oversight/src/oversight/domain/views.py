"""Reads grouped into views: what the access log and the leak-risk report count.

Every read of a lead is recorded (LeadViewed on AUDIT) and kept. A person who opens a lead
and refreshes it ten times in a few minutes has looked at it once, though: counted read by
read, the refreshes bury the one read by someone else that matters, and make a careful
reader look ten times as suspicious as a careless one. So a person's reads of one lead in
one service within a window (a setting, ten minutes by default) of the first of them are
one view, with how many reads it took and when the first and the last were. The next read
after the window begins another view. An export or a disclosure of identity is never
grouped: each is its own entry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

#: The kind of access that is grouped; every other kind stands alone.
VIEWED: Final = "viewed"


@dataclass(frozen=True)
class Read:
    """One recorded access, as the access log keeps it."""

    event_id: str
    lead_id: str | None
    at: datetime
    kind: str
    service: str
    user: str | None
    role: str
    unit: str | None
    purpose: str = ""

    @property
    def reader(self) -> tuple[str | None, str | None, str | None, str, str]:
        """Whose read of what: the lead, and the person in the service they read it in."""
        return (self.lead_id, self.user, self.unit, self.role, self.service)


@dataclass(frozen=True)
class View:
    """One or more reads of a lead by one person, oldest first."""

    reads: tuple[Read, ...]

    @property
    def first(self) -> Read:
        return self.reads[0]

    @property
    def first_at(self) -> datetime:
        return self.reads[0].at

    @property
    def last_at(self) -> datetime:
        return self.reads[-1].at

    @property
    def count(self) -> int:
        return len(self.reads)

    @property
    def purposes(self) -> list[str]:
        """The purposes given, each once, in the order first given."""
        return list(dict.fromkeys(r.purpose for r in self.reads if r.purpose))

    def last_read_before(self, moment: datetime, window: timedelta) -> datetime | None:
        """The view's latest read at most ``window`` before ``moment`` (None if none was):
        the read a tip-off before that moment could have come from."""
        within = [r.at for r in self.reads if timedelta(0) <= moment - r.at <= window]
        return max(within, default=None)


def views(reads: Iterable[Read], within: timedelta) -> list[View]:
    """``reads`` grouped into views, in the order each view began: a person's read of a
    lead joins the view they began at most ``within`` earlier, or begins one."""
    ordered = sorted(reads, key=lambda r: (r.at, r.event_id))
    grouped: list[list[Read]] = []
    open_views: dict[tuple[str | None, ...], list[Read]] = {}
    for read in ordered:
        if read.kind != VIEWED or read.lead_id is None:
            grouped.append([read])
            continue
        current = open_views.get(read.reader)
        if current is not None and read.at - current[0].at <= within:
            current.append(read)
            continue
        current = [read]
        open_views[read.reader] = current
        grouped.append(current)
    return [View(tuple(group)) for group in grouped]
