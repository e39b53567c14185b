"""Oversight's own read model, in oversight's own database: cases, supervision,
accountability, the custody of every lead and every recorded access, and what was reported
with the exchange with the reporter (never who reported). None of it is ever shared with
the handling units.

These tables are never altered in place: a change to them (a column more, another key)
comes with the projection's next ``version``, whose tables and indexes are named through
``common.projection.versioned`` and rebuilt beside these (common.readmodels).

Version 2: the assessment counts each fact for the unit and person responsible when it
happened (oversight.domain.assessment): each unit's turn with a lead (:data:`turns`) and
each person's deadline (:data:`assignments`), and on a lead's row the turn and assignment
in force."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from common.database import UtcDateTime
from common.projection import versioned
from common.thread import thread_table

VERSION = 2

metadata = MetaData()
_ID = BigInteger().with_variant(Integer, "sqlite")


def _named(name: str) -> str:
    return versioned(name, VERSION)


cases = Table(
    _named("oversight_cases"),
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False, unique=True),
    Column("umbrella", Boolean, nullable=False),
    Column("basis", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("linked_gang_lead", String(64)),
    Column("outcome", String(40)),
    Column("listed_deadline", UtcDateTime),
    Column("escalated", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# What oversight knows of every lead, from intake and the ledger.
leads = Table(
    _named("oversight_leads"),
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("category", String(40)),
    Column("village", String(40)),
    Column("flags", String(200), nullable=False, default=""),
    Column("summary", Text),
    Column("reported_at", UtcDateTime),
    Column("duplicate_of", String(64)),
    Column("same_matter_reports", Integer, nullable=False, default=1),
    Column("ledger_number", String(40)),
    Column("registered_at", UtcDateTime),
    Column("holder", String(40)),
    Column("assignee", String(64)),
    Column("deadline", UtcDateTime),
    Column("deadlines_missed", Integer, nullable=False, default=0),
    Column("concluded_at", UtcDateTime),
    Column("result", String(40)),
    Column("feedback_at", UtcDateTime),
    Column("archived_at", UtcDateTime),
    # the unit's turn and the person's assignment in force (rows of turns, assignments)
    Column("turn", String(64)),
    Column("assignment", String(64)),
)

# What was reported (LeadReported on INTAKE), as the committee reads it on its cases: one row
# a lead, kept whether or not a case is opened on it (a case may open later, on a transfer).
# Never who reported: no identity ciphertext, no receipt hash, not whether the reporter
# gave a name.
reports = Table(
    _named("oversight_reports"),
    metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("reported_at", UtcDateTime, nullable=False),
    Column("channel", String(40), nullable=False),
    Column("category", String(40), nullable=False),
    Column("village", String(40)),
    Column("summary", Text, nullable=False),
    Column("details", Text, nullable=False, default=""),
    # JSON: [{"name", "size", "sha256"}, ...]; the files are kept elsewhere
    Column("attachments", Text, nullable=False, default="[]"),
)

# The exchange with the reporter, one row an entry: what was added and written with the
# receipt (or by staff for the reporter) on INTAKE, and the ledger's answers (FeedbackGiven).
thread = thread_table(metadata, _named("oversight_thread"))

# 责任倒查: who held the lead and who was responsible for it, when.
custody = Table(
    _named("oversight_custody"),
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("unit", String(40)),
    Column("person", String(64)),
    Column("person_name", String(100)),
    Column("deadline", UtcDateTime),
    Column("by_user", String(64)),
    Column("note", Text, nullable=False, default=""),
)

access = Table(
    _named("oversight_access"),
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("lead_id", String(64), index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("service", String(20), nullable=False),
    Column("user", String(64)),
    Column("role", String(20), nullable=False),
    Column("unit", String(40)),
    Column("purpose", Text, nullable=False, default=""),
)

supervisions = Table(
    _named("oversight_supervisions"),
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False, index=True),
    Column("case_id", String(64)),
    Column("kind", String(20), nullable=False),
    Column("rule", String(40)),
    Column("unit", String(40)),
    Column("deadline", UtcDateTime),
    Column("level", String(20)),
    Column("reason", Text, nullable=False, default=""),
    Column("at", UtcDateTime, nullable=False),
)

# What the units holding the leads were told of the committee's supervision
# (SupervisionNoticed, one per supervision): a supervision without one is still owed.
notices = Table(
    _named("oversight_notices"),
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("supervision_id", String(64), index=True),
    Column("lead_id", String(64), nullable=False, index=True),
    Column("unit", String(40), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

accountability = Table(
    _named("oversight_accountability"),
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("lead_id", String(64), nullable=False),
    Column("person", String(100), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("form", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

# Every event of every lead in order, kept light: the leak-risk report compares reads
# with the moments that matter (transfers, cases, supervision, results).
moments = Table(
    _named("oversight_moments"),
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False, index=True),
    Column("event_type", String(40), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

# 考核: each unit's turn with a lead, from the event that gave it the lead (filed with it,
# handed to it, sent back to it) until it handed the lead on or sent it back.
turns = Table(
    _named("oversight_turns"),
    metadata,
    Column("turn_id", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False, index=True),
    Column("unit", String(40), nullable=False),
    Column("month", String(7), nullable=False),  # China time, when the turn began
    Column("began_at", UtcDateTime, nullable=False),
    Column("began", String(20), nullable=False),  # registered, transferred, returned
    Column("hours_to_register", Float),  # on the turn a lead was filed with
    Column("ended_at", UtcDateTime),
    Column("ended", String(20)),  # transferred, returned: the unit's own hand-over
    Column("ended_by", String(64)),
    Column("concluded_at", UtcDateTime),
    Column("answered_at", UtcDateTime),
)

# 考核: each assignment (a named person, a deadline) in a unit's turn, and how its deadline
# ended: met, late, or handed on before it fell due (on_time None).
assignments = Table(
    _named("oversight_assignments"),
    metadata,
    Column("assignment_id", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False, index=True),
    Column("turn_id", String(64)),
    Column("unit", String(40), nullable=False),
    Column("month", String(7), nullable=False),  # the turn's
    Column("person", String(64), nullable=False),
    Column("person_name", String(100)),
    Column("assigned_at", UtcDateTime, nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("on_time", Boolean),
    Column("missed", Integer, nullable=False, default=0),
    Column("missed_through", UtcDateTime),
)
