"""The conflict-of-interest guard on handing a lead to a person (通风报信, 保护伞).

The ledger refuses to assign a lead to someone it names, who declared a tie to what it names
or who recused themselves; the committee adds the people it knows to be conflicted (the
subject of an accountability or umbrella case) without telling the ledger the case. A
refused hand-over goes through only with the committee's approval, asked for and given as
events, and the hand-over then says it used one (ResponsibilityAssigned.conflict_override)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from common.events.accounts import USER_NAME
from common.events.envelope import Event

#: why the committee keeps a person off a lead: the category only, never the case
GuardReason = Literal["accountability", "umbrella", "other"]


class ConflictOverrideRequested(Event):
    """The office asks the committee to let a refused hand-over go through, saying why."""

    prefix: ClassVar[str] = "ledger"
    event_type: Literal["ConflictOverrideRequested"] = "ConflictOverrideRequested"
    lead_id: str
    account: str = Field(pattern=USER_NAME)
    reason: str = Field(min_length=1, max_length=1000)
    #: the grounds the hand-over was refused on (codes of ledger.domain.conflict)
    grounds: tuple[str, ...] = ()


class _GuardDirective(Event):
    prefix: ClassVar[str] = "directive"
    lead_id: str
    account: str = Field(pattern=USER_NAME)


class ConflictGuardSet(_GuardDirective):
    """The committee keeps this person off this lead, for a reason told by category only."""

    event_type: Literal["ConflictGuardSet"] = "ConflictGuardSet"
    reason: GuardReason


class ConflictGuardLifted(_GuardDirective):
    """The committee's guard on this person and lead no longer holds."""

    event_type: Literal["ConflictGuardLifted"] = "ConflictGuardLifted"


class ConflictOverrideApproved(_GuardDirective):
    """The committee lets the lead be handed to this person despite the conflict."""

    event_type: Literal["ConflictOverrideApproved"] = "ConflictOverrideApproved"
    note: str = Field(default="", max_length=1000)


class ConflictOverrideRefused(_GuardDirective):
    """The committee keeps refusing the hand-over."""

    event_type: Literal["ConflictOverrideRefused"] = "ConflictOverrideRefused"
    note: str = Field(default="", max_length=1000)
