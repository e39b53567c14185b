"""The rules of a campaign (自查自纠, 回头看): the office opens it; a unit's own people answer
every item once, saying why what is not done is not; only open answers (and decisions that
did not stand) become rectification items, once each; a look-back's sample is drawn once and
the same seed over the same leads draws the same; a closed campaign is final."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from common.errors import NotFound, NotPermitted, RuleViolation, Settled
from common.events import Actor, Role
from common.events.campaigns import (
    LONGEST_ITEM,
    MOST_ITEMS,
    CampaignOpened,
    ItemAnswer,
    TurnedItem,
    UnitAnswered,
)
from ledger.domain import campaign as rules
from ledger.domain.campaign import Campaign, Pick, Viewer

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
POLICE = Actor(role=Role.POLICE, unit="shd-police", user="police")
JUDICIAL = Actor(role=Role.JUDICIAL, unit="shd-judicial", user="judicial")
ITEMS = ("台账是否健全", "线索是否件件有着落", "是否按时反馈")
UNITS = ("shd-police", "shd-judicial", "shd-v01")
PERIOD = (date(2026, 11, 1), date(2026, 11, 30))


def opened(kind: str = "self_check", actor: Actor = OFFICE) -> CampaignOpened:
    return rules.open_campaign(
        "c" * 32,
        kind,  # type: ignore[arg-type]
        "2026年11月自查自纠",
        PERIOD,
        ITEMS if kind == "self_check" else (),
        UNITS if kind == "self_check" else (),
        NOW + timedelta(days=7),
        actor,
        NOW,
        "shd",
    )


def answers(*kinds: str, note: str = "正在补齐") -> list[ItemAnswer]:
    return [
        ItemAnswer(item=n, answer=k, note="" if k == "done" else note)
        for n, k in enumerate(kinds, start=1)
    ]


def answered(campaign: Campaign, actor: Actor, *kinds: str) -> Campaign:
    event = rules.answer(campaign, actor.unit or "", answers(*kinds), actor)
    return rules.evolve(campaign, event)


def test_only_the_office_opens_and_a_self_check_needs_a_list_and_units() -> None:
    with pytest.raises(NotPermitted):
        opened(actor=POLICE)
    with pytest.raises(RuleViolation) as refused:
        rules.open_campaign(
            "c" * 32, "self_check", "t", PERIOD, (), UNITS, NOW + timedelta(1), OFFICE, NOW
        )
    assert refused.value.field == "checklist"
    with pytest.raises(RuleViolation) as refused:
        rules.open_campaign(
            "c" * 32, "self_check", "t", PERIOD, ITEMS, UNITS * 2, NOW + timedelta(1), OFFICE, NOW
        )
    assert refused.value.field == "units"
    with pytest.raises(RuleViolation) as refused:
        rules.open_campaign("c" * 32, "self_check", "t", PERIOD, ITEMS, UNITS, NOW, OFFICE, NOW)
    assert refused.value.field == "deadline"
    with pytest.raises(RuleViolation) as refused:
        rules.open_campaign(
            "c" * 32,
            "look_back",
            "t",
            (PERIOD[1], PERIOD[0]),
            (),
            (),
            NOW + timedelta(1),
            OFFICE,
            NOW,
        )
    assert refused.value.field == "to"


def test_the_event_bounds_the_checklist() -> None:
    with pytest.raises(ValidationError):
        CampaignOpened.model_validate(
            {**opened().model_dump(), "items": ["x" * (LONGEST_ITEM + 1)]}
        )
    with pytest.raises(ValidationError):
        CampaignOpened.model_validate({**opened().model_dump(), "items": ["x"] * (MOST_ITEMS + 1)})


def test_a_unit_answers_for_itself_every_item_once_and_says_why_not() -> None:
    campaign = rules.fold([opened()])
    with pytest.raises(NotPermitted):
        rules.answer(campaign, "shd-judicial", answers("done", "done", "done"), POLICE)
    with pytest.raises(NotPermitted):  # the office does not answer for a unit
        rules.answer(campaign, "shd-police", answers("done", "done", "done"), OFFICE)
    with pytest.raises(RuleViolation) as refused:
        rules.answer(campaign, "shd-police", answers("done", "done"), POLICE)
    assert refused.value.field == "answers"
    with pytest.raises(RuleViolation) as refused:
        rules.answer(campaign, "shd-police", answers("done", "not", "done", note=" "), POLICE)
    assert refused.value.field == "answers.1.remark"
    after = answered(campaign, POLICE, "done", "not", "partly")
    assert [a.answer for a in after.answers["shd-police"].answers] == ["done", "not", "partly"]
    # A later answer replaces the earlier.
    again = answered(after, POLICE, "done", "done", "partly")
    assert [a.answer for a in again.answers["shd-police"].answers] == ["done", "done", "partly"]


def test_only_open_answers_become_rectification_items_once_each() -> None:
    campaign = answered(rules.fold([opened()]), POLICE, "done", "not", "partly")
    with pytest.raises(NotPermitted):
        rules.check_picks(campaign, [Pick("shd-police", item=2)], POLICE)
    with pytest.raises(RuleViolation) as refused:
        rules.check_picks(campaign, [Pick("shd-police", item=1)], OFFICE)
    assert refused.value.field == "item"
    with pytest.raises(RuleViolation) as refused:
        rules.check_picks(campaign, [Pick("shd-judicial", item=2)], OFFICE)
    assert refused.value.field == "unit"
    with pytest.raises(RuleViolation) as refused:
        rules.check_picks(
            campaign, [Pick("shd-police", item=2), Pick("shd-police", item=2)], OFFICE
        )
    assert refused.value.field == "rectify"
    rules.check_picks(campaign, [Pick("shd-police", item=2), Pick("shd-police", item=3)], OFFICE)
    assert "线索是否件件有着落" in rules.problem_of(campaign, Pick("shd-police", item=2))
    turned = rules.evolve(
        campaign,
        rules.turned(campaign, [TurnedItem(task_id="t1", unit="shd-police", item=2)], OFFICE),
    )
    with pytest.raises(RuleViolation):
        rules.check_picks(turned, [Pick("shd-police", item=2)], OFFICE)


def test_a_look_back_draws_reproducibly_once_and_records_findings() -> None:
    campaign = rules.fold([opened("look_back")])
    population = [f"lead-{n:03}" for n in range(40)]
    drawn = rules.sample(campaign, population, 5, 1234, OFFICE)
    assert drawn.lead_ids == rules.draw(list(reversed(population)), 5, 1234)
    assert len(set(drawn.lead_ids)) == 5
    assert drawn.population == 40
    assert rules.draw(population, 5, 1235) != drawn.lead_ids
    with pytest.raises(RuleViolation) as refused:
        rules.sample(campaign, [], 5, 1, OFFICE)
    assert refused.value.field == "period"
    sampled = rules.evolve(campaign, drawn)
    with pytest.raises(Settled):
        rules.sample(sampled, population, 5, 1, OFFICE)
    with pytest.raises(RuleViolation) as refused:
        rules.record_finding(sampled, "not-drawn", "x", True, OFFICE)
    assert refused.value.field == "lead_id"
    lead = drawn.lead_ids[0]
    found = rules.evolve(sampled, rules.record_finding(sampled, lead, "定性不准", False, OFFICE))
    rules.check_picks(found, [Pick("shd-police", lead_id=lead)], OFFICE)
    stands = rules.evolve(found, rules.record_finding(found, lead, "处理得当", True, OFFICE))
    with pytest.raises(RuleViolation):  # a decision that stands has nothing to rectify
        rules.check_picks(stands, [Pick("shd-police", lead_id=lead)], OFFICE)
    self_check = rules.fold([opened()])
    with pytest.raises(RuleViolation) as refused:
        rules.sample(self_check, population, 5, 1, OFFICE)
    assert refused.value.field == "campaign_kind"


def test_a_closed_campaign_is_final_and_visibility_follows_town_and_units_asked() -> None:
    campaign = rules.fold([opened()])
    police = Viewer(Role.POLICE, "shd-police", "shd")
    assert rules.may_see(campaign, police)
    assert not rules.sees_all(campaign, police)  # its own unit's part
    assert rules.sees_all(campaign, Viewer(Role.DISCIPLINE, "shd-discipline", "shd"))
    assert not rules.may_see(campaign, Viewer(Role.SCREENER, "shd-v02", "shd"))
    assert rules.sees_all(campaign, Viewer(Role.AUDITOR, "county", None, county=True))
    # Another town's office does not see it; the county's sees every town's.
    assert not rules.may_see(campaign, Viewer(Role.OFFICE, "zxl-office", "zxl"))
    assert not rules.may_see(campaign, Viewer(Role.OFFICE, "county", None))
    assert not rules.may_see(rules.fold([opened("look_back")]), police)
    closed = rules.evolve(campaign, rules.close(campaign, "", OFFICE))
    with pytest.raises(Settled):
        rules.answer(closed, "shd-police", answers("done", "done", "done"), POLICE)
    with pytest.raises(Settled):
        rules.close(closed, "", OFFICE)
    with pytest.raises(NotFound):
        rules.fold(
            [UnitAnswered(campaign_id="c", unit="shd-police", answers=tuple(answers("done")))]
        )
    with pytest.raises(NotPermitted):
        rules.answer(campaign, "shd-office", answers("done", "done", "done"), JUDICIAL)


def test_an_answer_after_the_deadline_is_taken_and_marked_late() -> None:
    campaign = Campaign(opened=opened())
    deadline = campaign.opened.deadline
    assert not rules.unit_answered_late(deadline, None)
    assert not rules.unit_answered_late(deadline, deadline)  # on the stroke is in time
    assert rules.unit_answered_late(deadline, deadline + timedelta(seconds=1))

    def at(moment: datetime, actor: Actor, *kinds: str) -> UnitAnswered:
        event = rules.answer(campaign, actor.unit or "", answers(*kinds), actor)
        return event.model_copy(update={"occurred_at": moment})

    in_time = at(deadline - timedelta(hours=1), POLICE, "done", "done", "done")
    # Past the deadline the answer is still taken: the rules refuse nothing for lateness.
    late = at(deadline + timedelta(days=2), JUDICIAL, "done", "not", "done")
    campaign = rules.evolve(rules.evolve(campaign, in_time), late)
    assert not campaign.answered_late("shd-police")
    assert campaign.answered_late("shd-judicial")
    assert not campaign.answered_late("shd-v01")  # not answered is not late: it is missing
    # A unit's later answer replaces its earlier one, and is judged by its own time.
    again = at(deadline + timedelta(minutes=5), POLICE, "done", "done", "partly")
    assert rules.evolve(campaign, again).answered_late("shd-police")
