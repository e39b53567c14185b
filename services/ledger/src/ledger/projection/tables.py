"""Ledger tables. Nothing of the discipline committee's private work is ever stored here:
from oversight the ledger sees only directives.

A lead's history is not copied here: it is read from the stream itself (by the lead's
subject), which is the record."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from common.database import UtcDateTime

metadata = MetaData()

leads = Table(
    "ledger_leads",
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("ledger_number", String(40), nullable=False, unique=True),
    Column("registered_at", UtcDateTime, nullable=False),
    Column("reported_at", UtcDateTime, nullable=False),
    Column("channel", String(40), nullable=False),
    Column("category", String(40), nullable=False),
    Column("village", String(40)),
    Column("summary", Text, nullable=False),
    Column("flags", String(200), nullable=False, default=""),
    # The ledger routed the lead to the discipline committee when it filed it (recorded on
    # LeadRegistered): no village screener sees it.
    Column("for_committee", Boolean, nullable=False, default=False),
    Column("status", String(20), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("transferred_from", String(40)),
    Column("assignee", String(64)),
    Column("assignee_name", String(100)),
    Column("deadline", UtcDateTime),
    Column("deadline_missed", Boolean, nullable=False, default=False),
    Column("verification_count", Integer, nullable=False, default=0),
    Column("conclusion", String(40)),
    Column("conclusion_summary", Text),
    Column("concluded_at", UtcDateTime),
    Column("feedback", Text),
    Column("feedback_at", UtcDateTime),
    Column("archived_at", UtcDateTime),
    Column("reopened_count", Integer, nullable=False, default=0),
    Column("supervision_deadline", UtcDateTime),
    Column("supervision_level", String(20)),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_ledger_leads_status", "status"),
    Index("ix_ledger_leads_unit", "unit"),
    Index("ix_ledger_leads_village", "village"),
    Index("ix_ledger_leads_registered_at", "registered_at"),
)

# Every unit a lead was ever handed to: police and judicial see the leads handed to them.
lead_units = Table(
    "ledger_lead_units",
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("unit", String(40), primary_key=True),
    Index("ix_ledger_lead_units_unit", "unit"),
)
