"""The assessment's rules (oversight.domain.assessment): a deadline is met, late or nobody's;
a deadline counts as missed once; each unit's months from its turns and its people's
deadlines; and leaving a late lead open never scores better than concluding it late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oversight.domain.assessment import (
    Assignment,
    Settled,
    Turn,
    assess,
    missed_by,
    month_of,
    settle,
)

DEADLINE = datetime(2025, 3, 20, 10, tzinfo=UTC)
BEFORE = DEADLINE - timedelta(days=1)
AFTER = DEADLINE + timedelta(days=1)
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def turn(unit: str, **given: object) -> Turn:
    values: dict[str, object] = {
        "unit": unit,
        "month": "2025-03",
        "handled": True,
        "returned": False,
        "concluded": False,
        "answered": False,
    }
    values.update(given)
    return Turn(**values)  # type: ignore[arg-type]


def open_assignment(unit: str, deadline: datetime = DEADLINE) -> Assignment:
    return Assignment(unit, "2025-03", "officer", deadline, False, None, 0, None)


def ended(unit: str, settled: Settled) -> Assignment:
    on_time, missed, through = settled.on_time, settled.missed, settled.missed_through
    return Assignment(unit, "2025-03", "officer", DEADLINE, True, on_time, missed, through)


def test_a_deadline_met_by_the_conclusion_is_on_time_and_not_missed() -> None:
    assert settle(DEADLINE, None, BEFORE, concluded=True) == Settled(True, 0, None)
    assert settle(DEADLINE, None, DEADLINE, concluded=True) == Settled(True, 0, None)


def test_a_conclusion_after_the_deadline_is_late_and_the_deadline_missed() -> None:
    assert settle(DEADLINE, None, AFTER, concluded=True) == Settled(False, 1, DEADLINE)


def test_a_lead_handed_on_after_its_deadline_leaves_the_deadline_late_and_missed() -> None:
    assert settle(DEADLINE, None, AFTER, concluded=False) == Settled(False, 1, DEADLINE)


def test_a_lead_handed_on_before_its_deadline_leaves_a_deadline_nobody_had_to_meet() -> None:
    assert settle(DEADLINE, None, BEFORE, concluded=False) == Settled(None, 0, None)


def test_a_deadline_counts_as_missed_once_however_often_it_is_looked_at() -> None:
    assert missed_by(DEADLINE, None, AFTER) == (1, DEADLINE)
    assert missed_by(DEADLINE, DEADLINE, AFTER + timedelta(days=3)) == (0, DEADLINE)
    assert settle(DEADLINE, DEADLINE, AFTER, concluded=True) == Settled(False, 0, DEADLINE)


def test_an_open_deadline_is_late_and_missed_once_it_has_passed_at_the_assessments_now() -> None:
    assert open_assignment("a").as_of(BEFORE) == Settled(None, 0, None)
    assert open_assignment("a").as_of(AFTER) == Settled(False, 1, DEADLINE)


def test_months_turn_in_china_time() -> None:
    assert month_of(datetime(2025, 3, 31, 22, tzinfo=UTC)) == "2025-04"
    assert month_of(datetime(2025, 3, 31, 15, 59, tzinfo=UTC)) == "2025-03"


def test_a_missed_deadline_stays_with_the_unit_that_had_it_after_the_lead_is_handed_on() -> None:
    # At A: assigned, overdue, handed to B; at B: assigned again and concluded on time.
    at_a = ended("a", settle(DEADLINE, None, AFTER, concluded=False))
    later = AFTER + timedelta(days=5)
    at_b = Assignment("b", "2025-03", "officer-b", later, True, True, 0, None)
    found = {
        a.unit: a
        for a in assess(
            [turn("a", handled=False), turn("b", concluded=True, answered=True)],
            [at_a, at_b],
            NOW,
        )
    }
    assert (found["a"].leads, found["a"].on_time_rate, found["a"].overdue) == (0, 0.0, 1)
    assert (found["b"].leads, found["b"].on_time_rate, found["b"].overdue) == (1, 1.0, 0)
    assert found["b"].score == 100.0
    assert found["a"].score < found["b"].score


def test_a_return_counts_for_the_unit_that_sent_the_lead_back_and_is_not_a_lead_it_handled() -> (
    None
):
    [police] = assess([turn("police", handled=False, returned=True)], [], NOW)
    assert (police.leads, police.returns) == (0, 1)
    assert (police.conclusion_rate, police.feedback_rate, police.on_time_rate) == (None,) * 3


def test_hours_to_register_are_the_filing_units_even_when_it_handled_no_lead() -> None:
    [office] = assess(
        [
            turn("office", handled=False, hours_to_register=2.0),
            turn("office", handled=False, hours_to_register=5.0),
        ],
        [],
        NOW,
    )
    assert (office.leads, office.avg_hours_to_register, office.score) == (0, 3.5, 100.0)


def test_a_unit_that_concluded_late_scores_above_one_that_left_the_lead_open() -> None:
    late = ended("police", settle(DEADLINE, None, AFTER, concluded=True))
    found = {
        a.unit: a
        for a in assess(
            [turn("police", concluded=True), turn("judicial")],
            [late, open_assignment("judicial")],
            NOW,
        )
    }
    assert found["judicial"].on_time_rate == 0.0
    assert found["police"].on_time_rate == 0.0
    assert found["judicial"].overdue == found["police"].overdue == 1
    assert found["police"].score > found["judicial"].score
