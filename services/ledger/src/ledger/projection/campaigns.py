"""The campaigns' read model (自查自纠, 回头看): each campaign as it stands, and each unit asked
with when it answered, so that a unit's people find the campaigns that ask them and the
office sees who has not answered yet.

A projection of its own, beside the ledger's, fed by LEDGER alone and rebuilt by replay like
it. One campaign read in full comes from its own events (ledger.application.campaigns)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, TypeVar

from sqlalchemy import Boolean, Column, Date, Index, Integer, MetaData, String, Table, Text

from common.batchwriter import BatchWriter
from common.database import UtcDateTime
from common.events import Event
from common.events.campaigns import (
    CampaignClosed,
    CampaignOpened,
    ItemsTurnedIntoTasks,
    LeadsSampledForReview,
    ReviewFindingRecorded,
    UnitAnswered,
)
from common.projection import Handler, Projection

VERSION: Final = 1
metadata = MetaData()

campaigns = Table(
    "ledger_campaigns",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("title", String(100), nullable=False),
    Column("period_from", Date, nullable=False),
    Column("period_to", Date, nullable=False),
    # the checklist, as a JSON list of texts
    Column("items", Text, nullable=False),
    Column("unit_count", Integer, nullable=False),
    Column("answered_count", Integer, nullable=False, default=0),
    Column("turned_count", Integer, nullable=False, default=0),
    Column("sampled_count", Integer, nullable=False, default=0),
    Column("finding_count", Integer, nullable=False, default=0),
    Column("deadline", UtcDateTime, nullable=False),
    Column("closed", Boolean, nullable=False, default=False),
    # the town whose office opened it; None: the county's
    Column("town", String(40)),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("opened_by", String(64)),
    Column("closed_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_ledger_campaigns_updated", "updated_at"),
)

asked = Table(
    "ledger_campaign_units",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("unit", String(40), primary_key=True),
    # Named apart from every column of the committee's read model: the ledger's database
    # holds no column named as one of oversight's (tests/integration/test_oversight_directives).
    Column("unit_answered_at", UtcDateTime),
    Column("answered_by", String(64)),
    Index("ix_ledger_campaign_units_unit", "unit"),
)

# The sampled leads with a finding recorded: a later finding on the same lead counts once.
reviewed = Table(
    "ledger_campaign_reviewed",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("lead_id", String(64), primary_key=True),
    Column("decision_stands", Boolean, nullable=False),
)

E = TypeVar("E", bound=Event)


def _opened(db: BatchWriter, event: CampaignOpened) -> None:
    db.put(
        campaigns,
        {
            "campaign_id": event.campaign_id,
            "kind": event.kind,
            "title": event.title,
            "period_from": event.period_from,
            "period_to": event.period_to,
            "items": json.dumps(list(event.items), ensure_ascii=False),
            "unit_count": len(event.units),
            "answered_count": 0,
            "turned_count": 0,
            "sampled_count": 0,
            "finding_count": 0,
            "deadline": event.deadline,
            "closed": False,
            "town": event.town,
            "opened_at": event.occurred_at,
            "opened_by": event.actor.user,
            "closed_at": None,
            "updated_at": event.occurred_at,
        },
    )
    for unit in event.units:
        db.put(
            asked,
            {
                "campaign_id": event.campaign_id,
                "unit": unit,
                "unit_answered_at": None,
                "answered_by": None,
            },
        )


def _on_campaign(
    change: Callable[[BatchWriter, dict[str, Any], E], None],
) -> Callable[[BatchWriter, E], None]:
    def handle(db: BatchWriter, event: E) -> None:
        row = db.get(campaigns, getattr(event, "campaign_id", ""))
        if row is not None:  # a campaign never opened has nothing to change
            change(db, row, event)
            row["updated_at"] = event.occurred_at
            db.put(campaigns, row)

    return handle


def _answered(db: BatchWriter, row: dict[str, Any], event: UnitAnswered) -> None:
    unit = db.get(asked, event.campaign_id, event.unit)
    if unit is None:
        return
    if unit["unit_answered_at"] is None:
        row["answered_count"] += 1
    unit.update(unit_answered_at=event.occurred_at, answered_by=event.actor.user)
    db.put(asked, unit)


def _turned(db: BatchWriter, row: dict[str, Any], event: ItemsTurnedIntoTasks) -> None:
    row["turned_count"] += len(event.items)


def _sampled(db: BatchWriter, row: dict[str, Any], event: LeadsSampledForReview) -> None:
    row["sampled_count"] = len(event.lead_ids)


def _finding(db: BatchWriter, row: dict[str, Any], event: ReviewFindingRecorded) -> None:
    if db.get(reviewed, event.campaign_id, event.lead_id) is None:
        row["finding_count"] += 1
    db.put(
        reviewed,
        {
            "campaign_id": event.campaign_id,
            "lead_id": event.lead_id,
            "decision_stands": event.decision_stands,
        },
    )


def _closed(db: BatchWriter, row: dict[str, Any], event: CampaignClosed) -> None:
    row.update(closed=True, closed_at=event.occurred_at)


_HANDLERS: dict[type[Event], Handler] = {
    CampaignOpened: _opened,
    UnitAnswered: _on_campaign(_answered),
    ItemsTurnedIntoTasks: _on_campaign(_turned),
    LeadsSampledForReview: _on_campaign(_sampled),
    ReviewFindingRecorded: _on_campaign(_finding),
    CampaignClosed: _on_campaign(_closed),
}


def campaigns_projection() -> Projection:
    """The campaigns and the units they ask, fed by the LEDGER stream."""
    return Projection(
        name="campaigns",
        metadata=metadata,
        version=VERSION,
        handlers={cls.type_name(): handler for cls, handler in _HANDLERS.items()},
    )


PROJECTION: Final = campaigns_projection()
