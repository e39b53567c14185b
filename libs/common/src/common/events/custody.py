"""Access to a named reporter's identity on request, under the two-person rule, as events.

A handler who needs to know who reported (to protect them or a witness, to take a
statement) asks with a reason; a custodian other than the one asking approves or refuses;
only an approved request lets its requester read the identity, once and before it lapses
(the read is :class:`common.events.catalogue.IdentityDisclosed` with the request's id).
They live on the INTAKE stream under the lead (``intake.lead.<id>.<Type>``).

A reason is recorded and shown to the committee, so it is short and says why, never who:
the category is what the reporter is told, the text is for the committee only."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Final, Literal

from pydantic import Field

from common.events.envelope import Event, UtcDatetime

REQUEST_ID: Final = r"^[A-Za-z0-9_-]{1,64}$"
#: A reason is a line, not a statement: a longer one tempts the asker to write down what
#: they already know of the reporter, and every reason is kept for good and read by the
#: committee.
LONGEST_REASON: Final = 200
#: How long an approval may let its requester read the identity, at most.
LONGEST_VALIDITY_HOURS: Final = 72


class ReasonCategory(StrEnum):
    """Why a handler needs to know who reported; the reporter is told this, in words."""

    PROTECT = "protect"
    STATEMENT = "statement"
    VERIFY = "verify"
    REWARD = "reward"
    ANSWER = "answer"


class _CustodyEvent(Event):
    prefix: ClassVar[str] = "intake"


class IdentityAccessRequested(_CustodyEvent):
    """A handler asked to read a named reporter's identity, with a reason."""

    event_type: Literal["IdentityAccessRequested"] = "IdentityAccessRequested"
    lead_id: str
    request_id: str = Field(pattern=REQUEST_ID)
    reason_category: ReasonCategory
    reason: str = Field(min_length=1, max_length=LONGEST_REASON)


class IdentityAccessApproved(_CustodyEvent):
    """A custodian (never the requester) approved a pending request: its requester may
    read the identity ``uses`` times before ``valid_until``."""

    event_type: Literal["IdentityAccessApproved"] = "IdentityAccessApproved"
    lead_id: str
    request_id: str = Field(pattern=REQUEST_ID)
    valid_until: UtcDatetime
    uses: Literal[1] = 1


class IdentityAccessRefused(_CustodyEvent):
    """A custodian (never the requester) refused a pending request, with a reason."""

    event_type: Literal["IdentityAccessRefused"] = "IdentityAccessRefused"
    lead_id: str
    request_id: str = Field(pattern=REQUEST_ID)
    reason: str = Field(min_length=1, max_length=LONGEST_REASON)
