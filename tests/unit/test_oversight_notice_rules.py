"""The committee's accountability on a notice: only the committee decides, only on a
notice of criticism that was issued, against the unit the notice criticises."""

from __future__ import annotations

import pytest

from common.errors import NotFound, NotPermitted, RuleViolation
from common.events import Actor, Role
from common.events.notices import NoticeIssued
from oversight.domain.notices import hold_accountable
from tests.unit.notice_samples import NOTICE_SAMPLES

COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline", user="zhao.jiwei")
ISSUED = NOTICE_SAMPLES[NoticeIssued]
assert isinstance(ISSUED, NoticeIssued)


def test_the_committee_holds_a_person_of_the_criticised_unit_accountable() -> None:
    event = hold_accountable(ISSUED, "wang.police", "accountability", 2, "推诿退回", COMMITTEE)
    assert (event.notice_id, event.unit, event.form, event.kind) == (
        ISSUED.notice_id,
        ISSUED.unit,
        2,
        "accountability",
    )
    assert (event.subject_kind, event.subject_id, event.prefix) == (
        "notice",
        ISSUED.notice_id,
        "oversight",
    )
    assert event.causation_id == ISSUED.event_id


def test_nobody_else_decides_and_nothing_but_an_issued_criticism_is_acted_on() -> None:
    office = Actor(role=Role.OFFICE, unit="shd-office", user="office")
    with pytest.raises(NotPermitted):
        hold_accountable(ISSUED, "wang.police", "accountability", 1, "理由", office)
    with pytest.raises(NotFound):
        hold_accountable(None, "wang.police", "accountability", 1, "理由", COMMITTEE)
    praise = ISSUED.model_copy(update={"kind": "praise"})
    with pytest.raises(RuleViolation, match="not of praise"):
        hold_accountable(praise, "wang.police", "accountability", 1, "理由", COMMITTEE)
