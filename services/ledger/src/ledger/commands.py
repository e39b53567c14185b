"""What a person may ask the ledger to do with a lead: one value per command.

Each carries everything the decision needs from the caller; who asks is given beside it
(common.auth.Principal). What the ledger works out itself (the default deadline, whether a
unit handles leads) is worked out by the application, not sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.vocabulary import Conclusion


@dataclass(frozen=True)
class Transfer:
    """Hand the lead to another handling unit (移交)."""

    lead_id: str
    to_unit: str
    reason: str


@dataclass(frozen=True)
class Accept:
    """Accept a lead handed to the principal's unit."""

    lead_id: str


@dataclass(frozen=True)
class Return:
    """Send a lead handed to the principal's unit back to the unit that handed it."""

    lead_id: str
    reason: str


@dataclass(frozen=True)
class Assign:
    """Make a named person responsible (责任到人); without a deadline, the category's."""

    lead_id: str
    assignee: str
    assignee_name: str
    deadline: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class ExtendDeadline:
    lead_id: str
    deadline: datetime
    reason: str


@dataclass(frozen=True)
class Evidence:
    """A file kept elsewhere, named by its hash."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RecordVerification:
    """Record verification progress (核查)."""

    lead_id: str
    note: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Conclude:
    """Record the lead's result (办结)."""

    lead_id: str
    result: Conclusion
    summary: str


@dataclass(frozen=True)
class GiveFeedback:
    """Answer the reporter (反馈)."""

    lead_id: str
    text: str
    method: str = "receipt"


@dataclass(frozen=True)
class Archive:
    """Archive the file (归档)."""

    lead_id: str


@dataclass(frozen=True)
class Reopen:
    """Reopen a concluded lead for a look-back review (回头看)."""

    lead_id: str
    reason: str


Command = (
    Transfer
    | Accept
    | Return
    | Assign
    | ExtendDeadline
    | RecordVerification
    | Conclude
    | GiveFeedback
    | Archive
    | Reopen
)
