"""One valid instance of every event of the conflict-of-interest guard, for the event tests:
their wire names are the contract, and each round-trips with its optional fields filled."""

from __future__ import annotations

from typing import Final

from common.events import Actor, Event, Role
from common.events.accounts import (
    AliasDeclared,
    Recused,
    RelationshipDeclared,
    RelationshipWithdrawn,
)
from common.events.conflict import (
    ConflictGuardLifted,
    ConflictGuardSet,
    ConflictOverrideApproved,
    ConflictOverrideRefused,
    ConflictOverrideRequested,
)

LEAD = "lead-0001"
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline", user="discipline")

CONFLICT_SAMPLES: Final[dict[type[Event], Event]] = {
    RelationshipDeclared: RelationshipDeclared(
        user="li.police", kind="village", name="shd-v01", note="妻子娘家在该村"
    ),
    RelationshipWithdrawn: RelationshipWithdrawn(user="li.police", kind="alias", name="李小四"),
    AliasDeclared: AliasDeclared(user="li.police", name="李小四"),
    Recused: Recused(user="li.police", lead_id=LEAD, reason="与被举报人是同学"),
    ConflictOverrideRequested: ConflictOverrideRequested(
        lead_id=LEAD,
        account="li.police",
        reason="全所仅此一人熟悉该村",
        grounds=("tie",),
        actor=OFFICE,
    ),
    ConflictGuardSet: ConflictGuardSet(
        lead_id=LEAD, account="li.police", reason="umbrella", actor=COMMITTEE
    ),
    ConflictGuardLifted: ConflictGuardLifted(lead_id=LEAD, account="li.police", actor=COMMITTEE),
    ConflictOverrideApproved: ConflictOverrideApproved(
        lead_id=LEAD, account="li.police", note="同意", actor=COMMITTEE
    ),
    ConflictOverrideRefused: ConflictOverrideRefused(
        lead_id=LEAD, account="li.police", note="不同意", actor=COMMITTEE
    ),
}
CONFLICT_WIRE_NAMES: Final = frozenset(cls.type_name() for cls in CONFLICT_SAMPLES)
