"""One valid instance of every campaign event (自查自纠, 回头看), for the event tests: their wire
names are the contract, and each round-trips with its optional fields filled."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final

from common.events import Actor, Event, Role
from common.events.campaigns import (
    CampaignClosed,
    CampaignOpened,
    CampaignViewed,
    ItemAnswer,
    ItemsTurnedIntoTasks,
    LeadsSampledForReview,
    ReviewFindingRecorded,
    TurnedItem,
    UnitAnswered,
)
from common.events.catalogue import Attachment

CAMPAIGN = "fedcba9876543210fedcba9876543210"
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
POLICE = Actor(role=Role.POLICE, unit="shd-police", user="police")

CAMPAIGN_WIRE_NAMES: Final = frozenset(
    {
        "CampaignOpened",
        "UnitAnswered",
        "ItemsTurnedIntoTasks",
        "LeadsSampledForReview",
        "ReviewFindingRecorded",
        "CampaignClosed",
        "CampaignViewed",
    }
)

CAMPAIGN_SAMPLES: Final[dict[type[Event], Event]] = {
    CampaignOpened: CampaignOpened(
        campaign_id=CAMPAIGN,
        kind="self_check",
        title="2026年自查自纠",
        period_from=date(2026, 11, 1),
        period_to=date(2026, 11, 30),
        items=("线索台账是否健全", "是否按时反馈"),
        units=("shd-police", "shd-judicial"),
        deadline=datetime(2026, 12, 10, 10, 0, tzinfo=UTC),
        town="shd",
        actor=OFFICE,
    ),
    UnitAnswered: UnitAnswered(
        campaign_id=CAMPAIGN,
        unit="shd-police",
        answers=(
            ItemAnswer(
                item=1,
                answer="done",
                evidence=(Attachment(name="台账.xlsx", size=2048, sha256="ab" * 32),),
            ),
            ItemAnswer(item=2, answer="not", note="两件未反馈"),
        ),
        actor=POLICE,
    ),
    ItemsTurnedIntoTasks: ItemsTurnedIntoTasks(
        campaign_id=CAMPAIGN,
        items=(
            TurnedItem(task_id="t" * 32, unit="shd-police", item=2),
            TurnedItem(task_id="u" * 32, unit="shd-police", lead_id="lead-0001"),
        ),
        actor=OFFICE,
    ),
    LeadsSampledForReview: LeadsSampledForReview(
        campaign_id=CAMPAIGN,
        seed=20261201,
        size=2,
        population=7,
        lead_ids=("lead-0001", "lead-0004"),
        actor=OFFICE,
    ),
    ReviewFindingRecorded: ReviewFindingRecorded(
        campaign_id=CAMPAIGN,
        lead_id="lead-0001",
        finding="定性不准，应重新核查",
        decision_stands=False,
        actor=OFFICE,
    ),
    CampaignClosed: CampaignClosed(campaign_id=CAMPAIGN, note="自查工作结束", actor=OFFICE),
    CampaignViewed: CampaignViewed(
        campaign_id=CAMPAIGN, service="ledger", part="report", actor=POLICE
    ),
}
