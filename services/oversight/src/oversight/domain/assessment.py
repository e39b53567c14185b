"""考核: what each unit answers for, and the score it makes.

A lead passes through several hands (filed with the office, handed to the police, sent
back, handed again), and each fact the assessment counts belongs to the unit, and the
person, responsible for the lead at the moment it happened (the responsibility trace knows
them), never to whoever holds the lead now: a deadline missed at A stays A's after the lead
is handed to B.

- A unit's **turn** with a lead runs from the moment the lead is filed with it, handed to
  it or sent back to it, until it hands the lead on or sends it back. A turn belongs to
  the unit's month in which it began (China time). The leads a unit *handled* in a month
  are its turns that did not end in a hand-over or a return: those it still holds,
  concluded or not. Concluded and answered are said of those turns: the unit concluded
  the lead, and the reporter was answered, while the unit held it.
- **Hours to register** belong to the unit the lead was filed with (the office).
- Each **assignment** (a person, a deadline) is the person's and their unit's. Its
  deadline is met when the lead is concluded by it; it is late when it passed with the
  lead open in their hands (concluded later, handed on later, reassigned later, or still
  open now). Handed on or reassigned before it fell due, it is neither. An extension
  moves the deadline the conclusion is measured against; a deadline that had passed
  before it was extended still counts as **missed** (overdue), once.
- A **return** (退回) is the unit's that sent the lead back: only the unit the lead was
  handed to can return it, before taking it on, so the return is its decision to decline
  the lead, and the plans ask every unit to take on its part (主动承担职责任务, 防止不作为)
  and criticise the perfunctory (简单应付). A transfer that should not have been made is
  for the office to read in the return's reason; it is not counted against the sender.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from common.times import CHINA


def month_of(at: datetime) -> str:
    """The assessment's month of a moment: months turn in China time."""
    return at.astimezone(CHINA).strftime("%Y-%m")


def missed_by(
    deadline: datetime, missed_through: datetime | None, at: datetime
) -> tuple[int, datetime | None]:
    """Whether ``deadline`` had passed by ``at`` and was not counted yet: (1 or 0, the
    latest deadline counted). A deadline counts once, however often it is looked at."""
    if deadline < at and (missed_through is None or missed_through < deadline):
        return 1, deadline
    return 0, missed_through


@dataclass(frozen=True)
class Settled:
    """An assignment's deadline as it ended: ``on_time`` None when it was handed on (or
    reassigned) before it fell due, so it is nobody's to meet."""

    on_time: bool | None
    missed: int
    missed_through: datetime | None


def settle(
    deadline: datetime, missed_through: datetime | None, at: datetime, concluded: bool
) -> Settled:
    """The deadline of an assignment ending at ``at``: by the lead's conclusion
    (``concluded``), or by a hand-over, a reassignment, or the assessment's now."""
    missed, through = missed_by(deadline, missed_through, at)
    if concluded:
        return Settled(at <= deadline, missed, through)
    return Settled(False if deadline < at else None, missed, through)


@dataclass(frozen=True)
class Turn:
    """A unit's turn with a lead, as the assessment counts it."""

    unit: str
    month: str
    handled: bool  # not ended by a hand-over or a return
    returned: bool  # ended by the unit sending the lead back
    concluded: bool
    answered: bool
    hours_to_register: float | None = None


@dataclass(frozen=True)
class Assignment:
    """A person's deadline on a lead, in their unit's turn (and its month)."""

    unit: str
    month: str
    person: str
    deadline: datetime
    ended: bool
    on_time: bool | None
    missed: int
    missed_through: datetime | None

    def as_of(self, now: datetime) -> Settled:
        """Its deadline as it stands ``now``: one still open is late once it has passed."""
        if self.ended:
            return Settled(self.on_time, self.missed, self.missed_through)
        settled = settle(self.deadline, self.missed_through, now, concluded=False)
        return Settled(settled.on_time, self.missed + settled.missed, settled.missed_through)


@dataclass(frozen=True)
class Assessment:
    """One unit's month (考核). Rates are None when there is nothing to rate: no lead
    handled, no deadline due."""

    unit: str
    month: str
    leads: int
    avg_hours_to_register: float | None
    on_time_rate: float | None
    feedback_rate: float | None
    conclusion_rate: float | None
    overdue: int
    returns: int
    score: float


def score(
    on_time: float | None, conclusion: float | None, feedback: float | None, overdue: int
) -> float:
    """100 for a unit that concluded and answered everything on time; 5 points off for
    every missed deadline; never below 0. A rate with nothing to rate (no deadline due
    yet, no lead handled) counts in full: nothing was left undone."""

    def part(rate: float | None) -> float:
        return 1.0 if rate is None else rate

    raw = 100 * (0.35 * part(on_time) + 0.35 * part(conclusion) + 0.30 * part(feedback))
    return round(max(raw - 5 * overdue, 0.0), 1)


@dataclass
class _Month:
    turns: list[Turn]
    deadlines: list[Settled]


def assess(
    turns: Iterable[Turn], assignments: Iterable[Assignment], now: datetime
) -> list[Assessment]:
    """Each unit's months, in the order of unit and month."""
    months: dict[tuple[str, str], _Month] = defaultdict(lambda: _Month([], []))
    for turn in turns:
        months[(turn.unit, turn.month)].turns.append(turn)
    for assignment in assignments:
        months[(assignment.unit, assignment.month)].deadlines.append(assignment.as_of(now))
    return [_assessed(unit, month, found) for (unit, month), found in sorted(months.items())]


def _assessed(unit: str, month: str, found: _Month) -> Assessment:
    handled = [t for t in found.turns if t.handled]
    waits = [t.hours_to_register for t in found.turns if t.hours_to_register is not None]
    due = [d for d in found.deadlines if d.on_time is not None]
    on_time = _share(sum(bool(d.on_time) for d in due), len(due))
    conclusion = _share(sum(t.concluded for t in handled), len(handled))
    feedback = _share(sum(t.answered for t in handled), len(handled))
    overdue = sum(d.missed for d in found.deadlines)
    return Assessment(
        unit=unit,
        month=month,
        leads=len(handled),
        avg_hours_to_register=round(sum(waits) / len(waits), 2) if waits else None,
        on_time_rate=_rounded(on_time),
        feedback_rate=_rounded(feedback),
        conclusion_rate=_rounded(conclusion),
        overdue=overdue,
        returns=sum(t.returned for t in found.turns),
        score=score(on_time, conclusion, feedback, overdue),
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _rounded(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)
