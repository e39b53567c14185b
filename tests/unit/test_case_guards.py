"""The guards a case sets by itself (oversight.domain.cases.case_guards): set for each
person it holds to account while open, for its category; lifted when it closes, but never
a guard a member set by hand; and nothing twice."""

from __future__ import annotations

from common.events import Actor, Role
from common.events.catalogue import AccountabilityRecorded, CaseOpened
from common.events.conflict import ConflictGuardLifted, ConflictGuardSet
from oversight.domain.cases import case_guards, case_id_for

LEAD = "lead-1"
SYSTEM = Actor(role=Role.SYSTEM, unit="shd-discipline", user="oversight")
MEMBER = Actor(role=Role.DISCIPLINE, unit="shd-discipline", user="discipline")


def case(*, umbrella: bool) -> CaseOpened:
    return CaseOpened(lead_id=LEAD, case_id=case_id_for(LEAD), basis="b", umbrella=umbrella)


def record(person: str) -> AccountabilityRecorded:
    return AccountabilityRecorded(
        lead_id=LEAD,
        case_id=case_id_for(LEAD),
        person=person,
        unit="shd-police",
        kind="accountability",
        form=2,
        reason="监管失职",
    )


def test_an_open_case_keeps_each_person_it_holds_to_account_off_its_lead_once() -> None:
    first, again = record("a.b"), record("a.b")
    subjects = [("a.b", first), ("a.b", again)]
    [set_] = case_guards(LEAD, case(umbrella=True), subjects, False, [], SYSTEM)
    assert isinstance(set_, ConflictGuardSet)
    assert (set_.account, set_.reason, set_.actor) == ("a.b", "umbrella", SYSTEM)
    # The same id however often it is decided; nothing more once it stands.
    [same] = case_guards(LEAD, case(umbrella=True), subjects, False, [], SYSTEM)
    assert same.event_id == set_.event_id
    assert case_guards(LEAD, case(umbrella=True), subjects, False, [set_], SYSTEM) == []
    assert case_guards(LEAD, None, subjects, False, [], SYSTEM) == []


def test_a_closed_case_lifts_its_own_guards_only() -> None:
    subjects = [("a.b", record("a.b")), ("c.d", record("c.d"))]
    ours = case_guards(LEAD, case(umbrella=False), subjects, False, [], SYSTEM)
    assert [g.reason for g in ours if isinstance(g, ConflictGuardSet)] == [
        "accountability",
        "accountability",
    ]
    # A member set the guard on c.d again by hand: it stands after the case closes.
    by_hand = ConflictGuardSet(lead_id=LEAD, account="c.d", reason="other", actor=MEMBER)
    [lifted] = case_guards(LEAD, case(umbrella=False), subjects, True, [*ours, by_hand], SYSTEM)
    assert isinstance(lifted, ConflictGuardLifted)
    assert lifted.account == "a.b"
    assert (
        case_guards(LEAD, case(umbrella=False), subjects, True, [*ours, by_hand, lifted], SYSTEM)
        == []
    )
    # Closed before anyone was guarded: nothing to set.
    assert case_guards(LEAD, case(umbrella=False), subjects, True, [], SYSTEM) == []
