"""Small builders of catalogue events with sensible defaults, for the rule tests: a lead's
history reads as a list of what happened to it, and each test overrides only what it is
about."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest

from common.errors import RuleViolation
from common.events import Actor, Role
from common.events.catalogue import (
    CaseOpened,
    DeadlineExtended,
    DeadlineMissed,
    DisciplineOutcome,
    EscalatedToHigherLevel,
    FeedbackGiven,
    IdentityShredded,
    LeadArchived,
    LeadConcluded,
    LeadRegistered,
    LeadReopened,
    LeadReported,
    LeadTransferred,
    ReporterKind,
    ReporterRef,
    ResponsibilityAssigned,
    SupervisionListed,
    SupervisionOpened,
    TransferAccepted,
    TransferReturned,
    VerificationRecorded,
)
from common.times import end_of_day
from common.vocabulary import Category, Channel, Conclusion, Flag

LEAD = "L1"
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
POLICE = Actor(role=Role.POLICE, unit="shd-police", user="police")
JUDICIAL = Actor(role=Role.JUDICIAL, unit="shd-judicial", user="judicial")
COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline", user="discipline")
CLERK = Actor(role=Role.CLERK, unit="shd-office", user="clerk")
CUSTODIAN = Actor(role=Role.CUSTODIAN, unit="shd-office", user="custodian")

# 10:00 on 1 March 2026 in the township.
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
# The end of 10 March 2026 in the township: 15:59:59 UTC.
DEADLINE = end_of_day(date(2026, 3, 10))


@contextmanager
def breaks_rule(english: str, chinese: str) -> Iterator[None]:
    """The block raises RuleViolation whose English and Chinese sentences name the rule."""
    with pytest.raises(RuleViolation) as caught:
        yield
    assert english in caught.value.message, caught.value.message
    assert chinese in caught.value.message_zh, caught.value.message_zh


# --- ledger ---------------------------------------------------------------------------


def registered(unit: str = "shd-office", **fields: object) -> LeadRegistered:
    values: dict[str, object] = {
        "lead_id": LEAD,
        "ledger_number": "SHD-2026-000001",
        "unit": unit,
        "reported_at": datetime(2026, 2, 28, tzinfo=UTC),
        "channel": Channel.HOTLINE,
        "category": Category.VILLAGE_TYRANT,
        "summary": "村霸强占鱼塘",
        "for_committee": False,
        "actor": OFFICE,
    }
    return LeadRegistered.model_validate(values | fields)


def transferred(
    to_unit: str = "shd-police", from_unit: str = "shd-office", actor: Actor = OFFICE
) -> LeadTransferred:
    return LeadTransferred(
        lead_id=LEAD, from_unit=from_unit, to_unit=to_unit, reason="涉嫌违法犯罪", actor=actor
    )


def accepted(by: Actor = POLICE) -> TransferAccepted:
    return TransferAccepted(lead_id=LEAD, unit=by.unit or "", actor=by)


def returned(by: Actor = POLICE, to_unit: str = "shd-office") -> TransferReturned:
    return TransferReturned(
        lead_id=LEAD, unit=by.unit or "", to_unit=to_unit, reason="不属于本单位职责", actor=by
    )


def assigned(
    assignee: str = "wang",
    deadline: datetime = DEADLINE,
    by: Actor = OFFICE,
    reason: str = "",
) -> ResponsibilityAssigned:
    return ResponsibilityAssigned(
        lead_id=LEAD,
        unit=by.unit or "",
        assignee=assignee,
        assignee_name="王警官",
        deadline=deadline,
        reason=reason,
        actor=by,
    )


def extended(deadline: datetime, by: Actor = OFFICE) -> DeadlineExtended:
    return DeadlineExtended(lead_id=LEAD, deadline=deadline, reason="需补充调查", actor=by)


def verified(by: Actor = OFFICE) -> VerificationRecorded:
    return VerificationRecorded(lead_id=LEAD, note="走访群众三人", actor=by)


def concluded(result: Conclusion = Conclusion.SUBSTANTIATED, by: Actor = OFFICE) -> LeadConcluded:
    return LeadConcluded(lead_id=LEAD, result=result, summary="查实", actor=by)


def answered(by: Actor = OFFICE) -> FeedbackGiven:
    return FeedbackGiven(lead_id=LEAD, text="已查实并处理", actor=by)


def archived(by: Actor = OFFICE) -> LeadArchived:
    return LeadArchived(lead_id=LEAD, actor=by)


def reopened(by: Actor = OFFICE) -> LeadReopened:
    return LeadReopened(lead_id=LEAD, reason="回头看", actor=by)


def missed(deadline: datetime = DEADLINE, unit: str = "shd-office") -> DeadlineMissed:
    return DeadlineMissed(lead_id=LEAD, unit=unit, assignee="wang", deadline=deadline)


def listed(unit: str = "shd-office", deadline: datetime = DEADLINE) -> SupervisionListed:
    return SupervisionListed(lead_id=LEAD, unit=unit, deadline=deadline, actor=COMMITTEE)


# --- intake ---------------------------------------------------------------------------


def reported(
    named: bool = False,
    category: Category = Category.VILLAGE_TYRANT,
    flags: tuple[Flag, ...] = (),
) -> LeadReported:
    reporter = (
        ReporterRef(kind=ReporterKind.NAMED, identity_ciphertext="v1.c2VhbGVk")
        if named
        else ReporterRef(kind=ReporterKind.ANONYMOUS)
    )
    return LeadReported(
        lead_id=LEAD,
        channel=Channel.HOTLINE,
        category=category,
        summary="村霸强占鱼塘",
        flags=flags,
        reporter=reporter,
        actor=CLERK,
    )


def shredded() -> IdentityShredded:
    return IdentityShredded(lead_id=LEAD, reason="举报人申请", actor=CUSTODIAN)


# --- oversight ------------------------------------------------------------------------


def case_opened(umbrella: bool = False) -> CaseOpened:
    return CaseOpened(
        lead_id=LEAD, case_id="case-1", basis="涉及公职人员", umbrella=umbrella, actor=COMMITTEE
    )


def supervision_opened(rule: str | None = None) -> SupervisionOpened:
    return SupervisionOpened(lead_id=LEAD, reason="逾期未办结", rule=rule, actor=COMMITTEE)


def escalated() -> EscalatedToHigherLevel:
    return EscalatedToHigherLevel(
        lead_id=LEAD, case_id="case-1", to_unit="county", reason="案情重大", actor=COMMITTEE
    )


def outcome(result: Conclusion = Conclusion.SUBSTANTIATED) -> DisciplineOutcome:
    return DisciplineOutcome(lead_id=LEAD, result=result, actor=COMMITTEE)
