"""Ledger tables. Nothing of the discipline committee's private work is ever stored here:
from oversight the ledger sees only directives. From intake the ledger keeps what was
reported and the exchange with the reporter, never who the reporter is: no identity
ciphertext, no receipt hash.

A lead's history is not copied here: it is read from the stream itself (by the lead's
subject), which is the record. The tables fed by INTAKE are keyed by lead id and filled
whether or not the ledger has filed the lead yet (the streams are read side by side).

These tables are never altered in place: a change to them (a column more, another key)
comes with the projection's next ``version`` (:data:`VERSION`), whose tables and indexes
are named through ``common.projection.versioned`` and rebuilt beside these
(common.readmodels).

Version 2: every read is bounded by the page it answers, not by the size of the ledger
(a county's leads over years): an index for the list's order under each filter a desk
uses, the counts statistics show kept by the projection (:data:`counts`), the lead's units
on its row (which counts it is in), and search rows numbered in the list's order, so a
search walks its matches newest first and stops at the page."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from common.database import UtcDateTime
from common.projection import versioned
from common.thread import thread_table

VERSION = 2

metadata = MetaData()


def _named(name: str) -> str:
    return versioned(name, VERSION)


# The list's order: newest filing first (queries.ORDER).
_ORDER = ("registered_at", "ledger_number")

leads = Table(
    _named("ledger_leads"),
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
    # The committee's supervision told to the unit handling the lead (SupervisionNoticed):
    # the latest one; every one stays in the lead's history.
    Column("supervised_at", UtcDateTime),
    Column("supervision_reason", Text),
    Column("supervision_rule", String(40)),
    Column("updated_at", UtcDateTime, nullable=False),
    # Every unit the lead was ever handed to (as lead_units has them), comma-separated:
    # the counts a change of the lead moves are known from its row alone.
    Column("units", String(400), nullable=False, default=""),
    # A page of a list walks one of these in order and stops at the page: the whole ledger
    # (and a unit's, through lead_units), or filtered by the column leading the index
    # (a screener's village among them).
    Index(_named("ix_ledger_leads_order"), *_ORDER),
    Index(_named("ix_ledger_leads_status"), "status", *_ORDER),
    Index(_named("ix_ledger_leads_unit"), "unit", *_ORDER),
    Index(_named("ix_ledger_leads_village"), "village", *_ORDER),
    Index(_named("ix_ledger_leads_category"), "category", *_ORDER),
    Index(_named("ix_ledger_leads_channel"), "channel", *_ORDER),
    Index(_named("ix_ledger_leads_assignee"), "assignee", *_ORDER),
    # The open leads in the list's order: the overdue ones are among them, a few of the
    # ledger's however old it grows (and the deadline job's).
    Index(
        _named("ix_ledger_leads_open"),
        *_ORDER,
        sqlite_where=text("conclusion IS NULL AND archived_at IS NULL"),
        postgresql_where=text("conclusion IS NULL AND archived_at IS NULL"),
    ),
)

# Every unit a lead was ever handed to: police and judicial see the leads handed to them.
lead_units = Table(
    _named("ledger_lead_units"),
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("unit", String(40), primary_key=True),
    Index(_named("ix_ledger_lead_units_unit"), "unit"),
)


# What was reported (LeadReported on INTAKE), as the people handling the lead read it.
reports = Table(
    _named("ledger_reports"),
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("reported_at", UtcDateTime, nullable=False),
    Column("channel", String(40), nullable=False),
    Column("summary", Text, nullable=False),
    Column("details", Text, nullable=False, default=""),
    # JSON: [{"name", "size", "sha256"}, ...]; the files are kept elsewhere
    Column("attachments", Text, nullable=False, default="[]"),
)

# The exchange with the reporter, one row an entry: what the reporter (or staff, for them)
# added and wrote (INTAKE), and the answers given (FeedbackGiven on LEDGER).
thread = thread_table(metadata, _named("ledger_thread"))

# Reports suspected of being the same matter (DuplicateSuspected), both ways round, and why
# intake suspects it (the event's ``basis``; named apart from the committee's case basis,
# which the ledger never holds).
duplicates = Table(
    _named("ledger_duplicates"),
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("other_lead_id", String(64), primary_key=True),
    Column("alike_because", Text, nullable=False),
    Column("suspected_at", UtcDateTime, nullable=False),
)

# The text a search looks through: summary, details and everything added later. Indexed
# for any substring of three characters (ledger.projection.search).
search_texts = Table(
    _named("ledger_search"),
    metadata,
    Column("lead_id", String(64), primary_key=True),
    # The row's number in SQLite's full-text index, which wants an integer: the lead's
    # place in the list's order (search.doc_number), so a search reads its matches newest
    # first and stops at the page. Set when the lead is filed (intake's report may come
    # first): a text without it is not searched yet. Derived from the registration, so a
    # rebuild numbers every lead as the live read model did.
    Column("doc", BigInteger, nullable=True, unique=True),
    Column("body", Text, nullable=False),
)

# What the statistics show, counted as the leads change instead of at each read: for each
# scope a reader sees the ledger through (``all``; ``village:<v>``, a screener's; ``unit:<u>``,
# the leads ever handed to a unit), the number of leads by village, current unit, category
# and month of filing. Written in the batch that changes the leads (queries.statistics).
counts = Table(
    _named("ledger_counts"),
    metadata,
    Column("scope", String(60), primary_key=True),
    Column("dimension", String(20), primary_key=True),
    Column("value", String(60), primary_key=True),
    Column("leads", Integer, nullable=False),
)
