"""Intake's read model: what a receipt holder may see of their report, and what intake
needs to find it (the receipt's keyed hash) and to keep its promises (retention).

These tables are never altered in place: a change to them (a column more, another key)
comes with the projection's next ``version``, whose tables and indexes are named through
``common.projection.versioned`` and rebuilt beside these (common.readmodels).

Version 2 keeps, on each report's row, what decides who may read the lead
(common.visibility): the unit of whoever entered it, and once the ledger filed it its
village, whether it went to the committee and every unit it was handed to."""

from __future__ import annotations

from typing import Final

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text

from common.database import UtcDateTime
from common.projection import versioned

VERSION: Final = 2
metadata = MetaData()


def _named(name: str) -> str:
    return versioned(name, VERSION)


reports = Table(
    _named("intake_reports"),
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("channel", String(40), nullable=False),
    Column("category", String(40), nullable=False),
    Column("village", String(40)),
    Column("named", Boolean, nullable=False),
    Column("reported_at", UtcDateTime, nullable=False),
    Column("progress", String(20), nullable=False),
    Column("ledger_number", String(40)),
    Column("supplements", Integer, nullable=False, default=0),
    Column("messages", Integer, nullable=False, default=0),
    Column("duplicate_of", String(64)),
    Column("archived_at", UtcDateTime),
    Column("identity_shredded", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Who may read the lead (common.visibility.LeadFacts): the unit of whoever entered it;
    # the ledger's village and routing once it filed it; every unit it was handed to, as
    # the ledger's lead_units, comma-separated.
    Column("entered_by", String(40)),
    Column("filed_village", String(40)),
    Column("for_committee", Boolean, nullable=False, default=False),
    Column("units", String(400), nullable=False, default=""),
)

receipts = Table(
    _named("intake_receipts"),
    metadata,
    Column("receipt_hash", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False, unique=True),
)

# The answers given to the reporter (反馈), in order.
feedback = Table(
    _named("intake_feedback"),
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("given_at", UtcDateTime, nullable=False),
)
