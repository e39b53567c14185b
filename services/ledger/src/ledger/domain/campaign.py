"""A campaign of self-inspection or look-back review (自查自纠, 回头看): its state folded from its
own events, who may see and act on it, and the decisions made on it.

The office opens a campaign with a checklist and the units asked; each asked unit's own
people answer every item (done / partly / not; what is not done says why); the office turns
the open answers into rectification items, and closes the campaign. A look-back also draws a
reproducible sample of the leads concluded in its period and records a finding on each; a
decision that did not stand may become a rectification item too. A closed campaign is final.

Every decision returns the event to append, or raises: RuleViolation (422, naming the field),
Settled (409, the campaign is closed), NotPermitted (403: the campaign is visible, the act is
not yours)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Final

from common.errors import NotFound, NotPermitted, RuleViolation, Settled
from common.events import Actor, Event, Role
from common.events.campaigns import (
    MOST_SAMPLED,
    CampaignClosed,
    CampaignKind,
    CampaignOpened,
    ItemAnswer,
    ItemsTurnedIntoTasks,
    LeadsSampledForReview,
    ReviewFindingRecorded,
    TurnedItem,
    UnitAnswered,
)
from common.vocabulary import CAMPAIGN_ANSWERS, CAMPAIGN_KINDS
from ledger.domain import periods
from ledger.domain.periods import LONGEST_PERIOD_DAYS
from ledger.domain.task import OFFICE_ROLES, WHOLE_TOWN

NO_SUCH_CAMPAIGN: Final = "no such campaign, or not one you may see"
#: answers that leave something to rectify
OPEN_ANSWERS: Final = frozenset({"partly", "not"})
ANSWER_LABELS: Final = CAMPAIGN_ANSWERS
#: an answer given after the campaign's deadline: taken, and marked so
LATE_LABEL: Final = ("逾期填报", "answered late")
KIND_LABELS: Final = CAMPAIGN_KINDS


@dataclass(frozen=True)
class Campaign:
    opened: CampaignOpened
    #: each unit's latest answers, by unit
    answers: dict[str, UnitAnswered] = field(default_factory=dict)
    turned: tuple[TurnedItem, ...] = ()
    sample: LeadsSampledForReview | None = None
    findings: dict[str, ReviewFindingRecorded] = field(default_factory=dict)
    closed: CampaignClosed | None = None

    @property
    def campaign_id(self) -> str:
        return self.opened.campaign_id

    @property
    def kind(self) -> CampaignKind:
        return self.opened.kind

    def answered_late(self, unit: str) -> bool:
        """Whether the unit's answer, as it stands, came after the deadline."""
        given = self.answers.get(unit)
        return unit_answered_late(self.opened.deadline, given.occurred_at if given else None)

    def turned_for(self, unit: str, item: int | None, lead_id: str | None) -> TurnedItem | None:
        return next(
            (
                t
                for t in self.turned
                if (t.unit, t.item, t.lead_id) == (unit, item, lead_id)
                or (lead_id is not None and t.lead_id == lead_id)
            ),
            None,
        )


def unit_answered_late(deadline: datetime, answered_at: datetime | None) -> bool:
    """A unit's answer given after the campaign's deadline (逾期填报). It is taken, not
    refused (the office wants the answer late rather than never), and marked wherever the
    answer is shown. A unit's later answer replaces its earlier one, and is judged by its
    own time."""
    return answered_at is not None and answered_at > deadline


def fold(events: Iterable[Event]) -> Campaign:
    campaign: Campaign | None = None
    for event in events:
        if isinstance(event, CampaignOpened):
            campaign = Campaign(opened=event)
        elif campaign is not None:
            campaign = evolve(campaign, event)
    if campaign is None:
        raise NotFound(NO_SUCH_CAMPAIGN)
    return campaign


def evolve(campaign: Campaign, event: Event) -> Campaign:
    match event:
        case UnitAnswered():
            return replace(campaign, answers={**campaign.answers, event.unit: event})
        case ItemsTurnedIntoTasks():
            return replace(campaign, turned=campaign.turned + event.items)
        case LeadsSampledForReview():
            return replace(campaign, sample=event)
        case ReviewFindingRecorded():
            return replace(campaign, findings={**campaign.findings, event.lead_id: event})
        case CampaignClosed():
            return replace(campaign, closed=event)
    return campaign


# --- who --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who reads a campaign: role, unit, the unit's town, and whether the unit is the
    county's own (whose people see every town)."""

    role: Role
    unit: str | None
    town: str | None
    county: bool = False


def sees_all(campaign: Campaign, viewer: Viewer) -> bool:
    """The office, clerks, auditors and the committee see their town's campaigns whole (the
    county's own, every one): every unit's answers, the sample, the report."""
    return viewer.role in WHOLE_TOWN and (
        viewer.county or (viewer.town is not None and viewer.town == campaign.opened.town)
    )


def may_see(campaign: Campaign, viewer: Viewer) -> bool:
    """Those who see it whole, and the people of a unit it asks (their own unit's part)."""
    return sees_all(campaign, viewer) or (
        viewer.unit is not None and viewer.unit in campaign.opened.units
    )


def office_only(actor: Actor, doing: str) -> None:
    if actor.role not in OFFICE_ROLES:
        raise NotPermitted(f"only the office or a clerk may {doing}")


def _open(campaign: Campaign, doing_zh: str) -> None:
    if campaign.closed is not None:
        raise Settled(
            "the campaign is closed: nothing of it changes any more",
            f"该项工作已结束，不能再{doing_zh}",
        )


def check_period(period_from: date, period_to: date) -> None:
    periods.check_period(
        period_from,
        period_to,
        backwards=("the period ends before it begins", "检查期间的结束日期早于开始日期"),
        too_long=(
            f"a campaign looks at most {LONGEST_PERIOD_DAYS} days",
            f"检查期间最长 {LONGEST_PERIOD_DAYS} 天",
        ),
    )


# --- decisions --------------------------------------------------------------------------


def open_campaign(
    campaign_id: str,
    kind: CampaignKind,
    title: str,
    period: tuple[date, date],
    items: Sequence[str],
    units: Sequence[str],
    deadline: datetime,
    actor: Actor,
    now: datetime,
    town: str | None = None,
) -> CampaignOpened:
    office_only(actor, "open a campaign")
    check_period(*period)
    if kind == "self_check" and not (items and units):
        raise RuleViolation(
            "a self-inspection needs a checklist and the units asked",
            "自查自纠须列明检查事项和参加自查的单位",
            field="checklist" if not items else "units",
        )
    if len(set(units)) != len(units):
        raise RuleViolation("a unit is asked twice", "参加单位有重复", field="units")
    if len(set(items)) != len(items):
        raise RuleViolation("a checklist item is given twice", "检查事项有重复", field="checklist")
    if deadline <= now:
        raise RuleViolation("the deadline has passed", "完成时限已过", field="deadline")
    return CampaignOpened(
        campaign_id=campaign_id,
        kind=kind,
        title=title,
        period_from=period[0],
        period_to=period[1],
        items=tuple(items),
        units=tuple(units),
        deadline=deadline,
        town=town,
        actor=actor,
    )


def answer(
    campaign: Campaign, unit: str, answers: Sequence[ItemAnswer], actor: Actor
) -> UnitAnswered:
    """A unit's answers: only its own people give them, one for every item of the list."""
    if actor.unit != unit or unit not in campaign.opened.units:
        raise NotPermitted("a unit's own people answer for it, in a campaign that asks it")
    _open(campaign, "填报自查情况")
    numbers = sorted(a.item for a in answers)
    wanted = list(range(1, len(campaign.opened.items) + 1))
    if numbers != wanted:
        raise RuleViolation(
            f"answer every checklist item once: items {wanted[0]}-{wanted[-1]}"
            if wanted
            else "the campaign has no checklist to answer",
            f"须逐项填报全部 {len(wanted)} 项检查事项，每项一次",
            field="answers",
        )
    for position, given in enumerate(answers):
        if given.answer in OPEN_ANSWERS and not given.note.strip():
            raise RuleViolation(
                f"item {given.item} is not done: say what is missing in the note",
                f"第 {given.item} 项未完成或部分完成，须在情况说明中写明",
                field=f"answers.{position}.remark",
            )
    ordered = tuple(sorted(answers, key=lambda a: a.item))
    return UnitAnswered(
        campaign_id=campaign.campaign_id,
        unit=unit,
        answers=ordered,
        actor=actor,
        **campaign.opened.caused(),
    )


@dataclass(frozen=True)
class Pick:
    """What the office turns into a rectification item: a unit's answer to an item, or a
    sampled lead whose decision did not stand (then ``unit`` is who rectifies it)."""

    unit: str
    item: int | None = None
    lead_id: str | None = None


def problem_of(campaign: Campaign, pick: Pick) -> str:
    """The item's problem as the campaign found it: the checklist item and the unit's note,
    or the look-back's finding."""
    if pick.lead_id is not None:
        found = campaign.findings[pick.lead_id]
        return f"{campaign.opened.title}：线索 {pick.lead_id} 复查认为原处理不当。{found.finding}"
    assert pick.item is not None  # noqa: S101 - a pick is one or the other (check_picks)
    given = next(a for a in campaign.answers[pick.unit].answers if a.item == pick.item)
    label = ANSWER_LABELS[given.answer][0]
    return (
        f"{campaign.opened.title}：{campaign.opened.items[pick.item - 1]}（{label}）。{given.note}"
    )


def check_picks(campaign: Campaign, picks: Sequence[Pick], actor: Actor) -> None:
    """Every pick is something open the campaign found, and not turned already."""
    office_only(actor, "turn answers into rectification items")
    _open(campaign, "转为整改事项")
    seen: set[tuple[str, int | None, str | None]] = set()
    for pick in picks:
        key = (pick.unit, pick.item, pick.lead_id)
        if key in seen or campaign.turned_for(*key) is not None:
            raise RuleViolation(
                "that answer is already a rectification item", "该项已转为整改事项", field="rectify"
            )
        seen.add(key)
        if (pick.item is None) == (pick.lead_id is None):
            raise RuleViolation(
                "name a unit's checklist item, or a sampled lead",
                "请指明某单位的检查事项，或抽查的线索，二选一",
                field="rectify",
            )
        if pick.lead_id is not None:
            found = campaign.findings.get(pick.lead_id)
            if found is None or found.decision_stands:
                raise RuleViolation(
                    f"lead {pick.lead_id} has no finding that its decision does not stand",
                    f"线索 {pick.lead_id} 没有“原处理不当”的复查结论",
                    field="lead_id",
                )
            continue
        given = campaign.answers.get(pick.unit)
        if given is None:
            raise RuleViolation(
                f"{pick.unit} has not answered", f"{pick.unit} 尚未填报自查情况", field="unit"
            )
        answer_of = next((a for a in given.answers if a.item == pick.item), None)
        if answer_of is None or answer_of.answer not in OPEN_ANSWERS:
            raise RuleViolation(
                f"{pick.unit} answered item {pick.item} as done: nothing to rectify",
                f"{pick.unit} 第 {pick.item} 项已完成，无需整改",
                field="item",
            )


def turned(campaign: Campaign, items: Sequence[TurnedItem], actor: Actor) -> ItemsTurnedIntoTasks:
    return ItemsTurnedIntoTasks(
        campaign_id=campaign.campaign_id,
        items=tuple(items),
        actor=actor,
        **campaign.opened.caused(),
    )


def draw(population: Sequence[str], size: int, seed: int) -> tuple[str, ...]:
    """The leads drawn: the same seed over the same leads (in any order) draws the same."""
    ordered = sorted(set(population))
    chosen = random.Random(seed).sample(ordered, min(size, len(ordered)))  # noqa: S311 - a sample, not a secret
    return tuple(sorted(chosen))


def sample(
    campaign: Campaign, population: Sequence[str], size: int, seed: int, actor: Actor
) -> LeadsSampledForReview:
    office_only(actor, "sample leads for review")
    _open(campaign, "抽取线索")
    if campaign.kind != "look_back":
        raise RuleViolation(
            "only a look-back review samples concluded leads",
            "只有“回头看”才抽查已办结线索",
            field="campaign_kind",
        )
    if campaign.sample is not None:
        raise Settled(
            "the leads were sampled already: a sample is drawn once",
            "本次回头看已抽取线索，不能重复抽取",
        )
    if not 1 <= size <= MOST_SAMPLED:
        raise RuleViolation(
            f"sample 1 to {MOST_SAMPLED} leads", f"抽取 1 至 {MOST_SAMPLED} 条", field="size"
        )
    if not population:
        raise RuleViolation(
            "no lead was concluded in the campaign's period",
            "检查期间内没有已办结的线索",
            field="period",
        )
    return LeadsSampledForReview(
        campaign_id=campaign.campaign_id,
        seed=seed,
        size=size,
        population=len(set(population)),
        lead_ids=draw(population, size, seed),
        actor=actor,
        **campaign.opened.caused(),
    )


def record_finding(
    campaign: Campaign, lead_id: str, finding: str, stands: bool, actor: Actor
) -> ReviewFindingRecorded:
    office_only(actor, "record a review finding")
    _open(campaign, "记录复查结论")
    if campaign.sample is None or lead_id not in campaign.sample.lead_ids:
        raise RuleViolation(
            f"lead {lead_id} is not among the leads sampled for review",
            f"线索 {lead_id} 不在本次抽查范围内",
            field="lead_id",
        )
    return ReviewFindingRecorded(
        campaign_id=campaign.campaign_id,
        lead_id=lead_id,
        finding=finding,
        decision_stands=stands,
        actor=actor,
        **campaign.opened.caused(),
    )


def close(campaign: Campaign, note: str, actor: Actor) -> CampaignClosed:
    office_only(actor, "close a campaign")
    _open(campaign, "结束")
    return CampaignClosed(
        campaign_id=campaign.campaign_id, note=note, actor=actor, **campaign.opened.caused()
    )
