"""What the discipline committee may decide on a case, one value per decision. The acting
principal is passed beside the command; the case is named by its id, the lead behind it is
the application's to find."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from common.vocabulary import Conclusion


@dataclass(frozen=True)
class Supervise:
    """督办: press the case by the committee's own decision."""

    case_id: str
    reason: str


@dataclass(frozen=True)
class ListSupervision:
    """挂牌督办: a directive to a handling unit to conclude by ``deadline``."""

    case_id: str
    unit: str
    deadline: datetime
    level: Literal["town", "county"] = "town"


@dataclass(frozen=True)
class Escalate:
    """提级办理: the case goes to the county level."""

    case_id: str
    reason: str


@dataclass(frozen=True)
class LinkUmbrella:
    """同步侦办: an umbrella case investigated with the gang lead it shields."""

    case_id: str
    gang_lead_id: str


@dataclass(frozen=True)
class RecordAccountability:
    """Criticism or accountability of a person (四种形态, ``form`` 1 to 4)."""

    case_id: str
    person: str
    unit: str
    kind: Literal["public_criticism", "accountability"]
    form: int
    reason: str


@dataclass(frozen=True)
class RecordOutcome:
    """The discipline outcome of a lead the ledger transferred to the committee."""

    case_id: str
    result: Conclusion


Command = (
    Supervise | ListSupervision | Escalate | LinkUmbrella | RecordAccountability | RecordOutcome
)
