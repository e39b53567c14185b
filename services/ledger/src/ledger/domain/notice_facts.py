"""Which facts of the ledger a notice about a unit cites: the rules the notices' read model
records them by, and how they are gathered for a unit and a period.

A fact is counted against the unit that held the lead when it happened:

- ``overdue``: a deadline of the unit's passed without a result (DeadlineMissed), dated at
  the deadline;
- ``late_answer``: the reporter was answered after the deadline in force (once per
  deadline: a second answer to the same lateness is not a second fault);
- ``return``: the unit sent back a lead handed to it (TransferReturned).

A period is whole days on the township's clock (Asia/Shanghai), both ends included."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Literal

from common.events.notices import MOST_CITED, NoticeFacts
from common.times import CHINA

FactKind = Literal["overdue", "late_answer", "return"]
OVERDUE: Final = "overdue"
LATE_ANSWER: Final = "late_answer"
RETURN: Final = "return"


@dataclass(frozen=True)
class Fact:
    kind: FactKind
    lead_id: str
    at: datetime


def answered_late(answered_at: datetime, deadline: datetime | None) -> bool:
    """An answer counts as late when a deadline was in force and had passed."""
    return deadline is not None and answered_at > deadline


def fact_key(kind: FactKind, lead_id: str, ref: str) -> str:
    """One row per fact: an overdue deadline and a late answer to it once each per lead and
    deadline (``ref`` is the deadline), a return once per event (``ref`` its id)."""
    return f"{kind}:{lead_id}:{ref}"


def period_bounds(period_from: date, period_to: date) -> tuple[datetime, datetime]:
    """The period as moments: from the first day's midnight to the next day's after the
    last, China time (the end excluded)."""
    start = datetime.combine(period_from, time(0), CHINA)
    end = datetime.combine(period_to + timedelta(days=1), time(0), CHINA)
    return start, end


def gather(facts: Iterable[Fact]) -> NoticeFacts:
    """The counts of each kind, and the leads behind them in the order met, each once and
    at most :data:`MOST_CITED` (the counts go on)."""
    counts = {OVERDUE: 0, LATE_ANSWER: 0, RETURN: 0}
    cited: dict[str, None] = {}
    for fact in facts:
        counts[fact.kind] += 1
        if len(cited) < MOST_CITED:
            cited.setdefault(fact.lead_id, None)
    return NoticeFacts(
        overdue=counts[OVERDUE],
        late_answers=counts[LATE_ANSWER],
        returns=counts[RETURN],
        lead_ids=tuple(cited),
    )
